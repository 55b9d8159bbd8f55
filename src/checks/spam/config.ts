import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('content score from the spam scanner (scanners.spam)');
