/** What an issuer sends ends up on the terminal: no control characters (escape sequences, line breaks). */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}
