import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('virus scan through clamd (scanners.clamd)');
