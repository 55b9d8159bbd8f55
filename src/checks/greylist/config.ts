import { checkSettings } from '../settings.js';

export const settings = checkSettings({}, { mode: 'off' }).describe('greylisting of (client network, sender, recipient) triplets');
