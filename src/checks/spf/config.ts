import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('SPF (RFC 7208) for the MAIL FROM domain, evaluated at MAIL');
