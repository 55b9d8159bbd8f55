import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('DKIM (RFC 6376), ARC (RFC 8617) and DMARC (RFC 7489) at DATA; adds Authentication-Results');
