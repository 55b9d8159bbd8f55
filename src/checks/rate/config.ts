import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('connections and messages per client address per time window');
