import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('the MAIL FROM domain must be able to receive replies: MX or address, no null MX, no IP address as MX');
