import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('DNS block- and allow-lists for the client address');
