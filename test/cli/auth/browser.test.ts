import { describe, expect, it } from 'vitest';
import { opener } from '../../../cli/src/auth/browser.ts';
import { printable } from '../../../cli/src/auth/printable.ts';

describe('printable', () => {
  it('turns the escape sequences and line breaks an issuer might send into spaces', () => {
    expect(printable('invalid_grant: \u001b[2Jcleared\r\nstint: signed in')).toBe(
      'invalid_grant:  [2Jcleared stint: signed in',
    );
    expect(printable('plain text, “quotes” and é stay')).toBe('plain text, “quotes” and é stay');
  });
});

describe('opener', () => {
  // On Linux, where the tests run: macOS and Windows always have `open` and `start`.
  it('finds no opener where there is no $BROWSER and nothing on PATH', () => {
    expect(opener({ PATH: '' })).toBeUndefined();
    expect(opener({ PATH: '', BROWSER: 'not-a-browser-here' })).toBeUndefined();
  });

  it('takes the first command of $BROWSER that exists', () => {
    expect(opener({ PATH: '', BROWSER: `${process.execPath} --flag %s` })).toBeTypeOf('function');
  });
});
