/**
 * The RFC 6120 §11.1 guard of the XMPP stream parser: a character scanner that runs ahead of the XML parser
 * and stops at the first restricted construct (DTD, comment, processing instruction, undefined entity).
 */

// Guard scanner states.
const TEXT = 0;
const LT = 1; // after '<'
const BANG = 2; // after '<!'
const CDATA_OPEN = 3; // matching '[CDATA[' after '<!'
const CDATA = 4; // inside a CDATA section
const DECL_TARGET = 5; // after '<?' at the very start: must be the XML declaration
const DECL = 6; // inside the XML declaration
const ENTITY = 7; // after '&'

const CDATA_TAIL = '[CDATA[';
const PREDEFINED = new Set(['lt', 'gt', 'amp', 'quot', 'apos']);

/**
 * Finds RFC 6120 §11.1 restricted constructs in the raw character stream, ahead of saxes. Outside CDATA
 * sections a literal '<' is always markup (XML forbids it in attribute values and text), so the guard only
 * tracks CDATA, the XML declaration and entity references. Anything it lets through that is malformed is
 * still refused by saxes, as not-well-formed.
 */
export class RestrictedXmlGuard {
  /** Why scan() stopped. */
  reason = '';
  private state = TEXT;
  private atStart = true;
  private ltAtStart = false;
  private count = 0;
  private name = '';

  /** Index of the character that completes a restricted construct, or -1. State carries over to the next call. */
  scan(s: string): number {
    let state = this.state;
    let count = this.count;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.atStart) {
        if (c === 0xfeff) continue; // a byte order mark before the declaration
        this.atStart = false;
        this.ltAtStart = c === 0x3c;
      } else if (state === TEXT && c === 0x3c) {
        this.ltAtStart = false;
      }
      switch (state) {
        case TEXT:
          if (c === 0x3c) state = LT;
          else if (c === 0x26) {
            state = ENTITY;
            this.name = '';
          }
          break;
        case LT:
          if (c === 0x21) state = BANG;
          else if (c === 0x3f) {
            if (!this.ltAtStart) return this.stop(i, 'processing instruction (RFC 6120 §11.1)');
            state = DECL_TARGET;
            count = 0;
          } else state = TEXT;
          break;
        case BANG:
          if (c === 0x5b) {
            state = CDATA_OPEN;
            count = 1;
          } else if (c === 0x2d) return this.stop(i, 'comment (RFC 6120 §11.1)');
          else return this.stop(i, 'DTD or markup declaration (RFC 6120 §11.1)');
          break;
        case CDATA_OPEN:
          if (c === CDATA_TAIL.charCodeAt(count)) {
            if (++count === CDATA_TAIL.length) {
              state = CDATA;
              count = 0;
            }
          } else state = TEXT;
          break;
        case CDATA:
          if (c === 0x5d) count++;
          else if (c === 0x3e && count >= 2) {
            state = TEXT;
            count = 0;
          } else count = 0;
          break;
        case DECL_TARGET:
          if (count < 3) {
            if (c !== 'xml'.charCodeAt(count)) return this.stop(i, 'processing instruction (RFC 6120 §11.1)');
            count++;
          } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
            state = DECL;
            count = 0;
          } else return this.stop(i, 'processing instruction (RFC 6120 §11.1)');
          break;
        case DECL:
          if (c === 0x3e && count === 1) state = TEXT;
          count = c === 0x3f ? 1 : 0;
          break;
        case ENTITY:
          if (c === 0x3b) {
            const name = this.name;
            state = TEXT;
            if (name.charCodeAt(0) !== 0x23 && !PREDEFINED.has(name)) {
              return this.stop(i, `entity reference &${name.length > 8 ? name.slice(0, 8) + '…' : name}; (RFC 6120 §11.1)`);
            }
          } else if (c <= 0x20 || c === 0x3c || c === 0x26 || c === 0x22 || c === 0x27 || c === 0x3e) {
            // Not an entity reference after all (malformed: saxes will say so); look at this character again.
            state = TEXT;
            i--;
          } else if (this.name.length < 9) {
            this.name += s[i];
          }
          break;
      }
    }
    this.state = state;
    this.count = count;
    return -1;
  }

  private stop(i: number, reason: string): number {
    this.reason = reason;
    return i;
  }
}
