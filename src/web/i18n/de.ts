// Die deutschen Texte der Web-Oberfläche (dieselben Schlüssel wie en.ts).
import type { TextKey } from './en.js';

export const de: Record<TextKey, string> = {
  'lang.name': 'Deutsch',
  'lang.switch': 'Sprache',
};
