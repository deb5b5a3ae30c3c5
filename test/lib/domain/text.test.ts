import { describe, expect, it } from 'vitest';
import { GroupName, Subject } from '#lib/domain/common.ts';
import { ValidationError } from '#lib/domain/errors.ts';
import { Identity } from '#lib/domain/identity.ts';
import { Line, Text } from '#lib/domain/text.ts';
import { assertWellFormed, hasControlCharacters, isWellFormed, malformedPath } from '#lib/domain/well-formed.ts';

describe('well-formed Unicode', () => {
  it('tells lone surrogates from surrogate pairs', () => {
    expect(isWellFormed('plain, accented é, emoji 🛠')).toBe(true);
    expect(isWellFormed('\ud83d\udee0')).toBe(true);
    expect(isWellFormed('\ud800')).toBe(false);
    expect(isWellFormed('a\udc00')).toBe(false);
    expect(isWellFormed('\udee0\ud83d')).toBe(false);
  });

  it('names the first malformed string of a parsed JSON value by its path, keys included', () => {
    const body = JSON.parse('{"ok":"yes","emails":["a@example.com","\\ud800"],"nested":{"x":"\\udc00"}}');

    expect(malformedPath(body, 'body')).toBe('body.emails.1');
    expect(malformedPath({ labels: { '\ud800k': 'v' } }, 'body')).toBe('body.labels.\ufffdk');
    expect(malformedPath({ a: [1, true, null, { b: 'fine' }] }, 'body')).toBeUndefined();
    expect(malformedPath({ userName: '\ud800' }, '')).toBe('userName');
  });

  it('refuses through assertWellFormed with a 400 ValidationError naming the field', () => {
    let caught: unknown;
    try {
      assertWellFormed({ displayName: 'x\ud800' }, 'body');
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toMatchObject({ status: 400, field: 'body.displayName' });
    expect(() => assertWellFormed({ displayName: 'x' }, 'body')).not.toThrow();
  });
});

describe('control characters by field kind', () => {
  it('refuse every C0/C1 control in single-line fields, but tab and line breaks in free text', () => {
    expect(Line.safeParse('Ann O\u2019Neil').success).toBe(true);
    for (const c of ['\u0000', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f']) {
      expect(Line.safeParse(`a${c}b`).success, JSON.stringify(c)).toBe(false);
    }
    expect(Text.safeParse('line one\n\tline two\r\n').success).toBe(true);
    for (const c of ['\u0000', '\u0007', '\u001b', '\u007f', '\u0085']) {
      expect(Text.safeParse(`a${c}b`).success, JSON.stringify(c)).toBe(false);
    }
    expect(hasControlCharacters('\u00a0 no-break space is not a control', { allowWhitespace: false })).toBe(false);
  });

  it('refuse lone surrogates in both, with the well-formedness message first', () => {
    const line = Line.safeParse('\ud800');
    const text = Text.safeParse('\ud800');

    expect(line.success).toBe(false);
    expect(text.success).toBe(false);
    expect(line.error?.issues[0]?.message).toMatch(/well-formed Unicode/);
  });
});

describe('identity primitives', () => {
  it('refuse a subject or group name that is not well-formed or holds a control character', () => {
    expect(Subject.safeParse('alice').success).toBe(true);
    expect(Subject.safeParse('alice\ud800').success).toBe(false);
    expect(Subject.safeParse('alice\u0000').success).toBe(false);
    expect(GroupName.safeParse('dba\udfff').success).toBe(false);
  });

  it('make the Identity schema refuse such claims, so any resolver of the caller refuses them', () => {
    const good = { sub: 'alice', email: 'alice@example.com', groups: ['dba'] };

    expect(Identity.safeParse(good).success).toBe(true);
    expect(Identity.safeParse({ ...good, sub: '\ud800' }).error?.issues[0]?.path).toEqual(['sub']);
    expect(Identity.safeParse({ ...good, groups: ['dba', 'x\udc00'] }).error?.issues[0]?.path).toEqual(['groups', 1]);
    expect(Identity.safeParse({ ...good, manager: 'boss\u0007' }).success).toBe(false);
  });
});
