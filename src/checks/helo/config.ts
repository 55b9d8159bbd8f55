import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('HELO/EHLO claims: an address literal that is not the client, our own name or address');
