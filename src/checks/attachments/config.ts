import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('attachment policy: executables, scripts, macro Office files, archives with those; MIME limits');
