import { checkSettings } from '../settings.js';

export const settings = checkSettings({}).describe('reverse DNS of the client: PTR, forward confirmation, generic/dynamic host names');
