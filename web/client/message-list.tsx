/**
 * A conversation's messages as a virtualised list (@tanstack/virtual-core): only the rows in and near the view are
 * in the page, each measured as it renders (rows differ in height), so 10,000 messages scroll like 50. The list is
 * anchored at its end: it opens on the newest message, follows new ones while the reader is at the end, and keeps
 * the row being read in place when older pages are put in above it (the virtualizer's `anchorTo: 'end'` re-anchors
 * on the row's key). Older pages load as the reader nears the top. The scroller is focusable, so the arrow keys,
 * Page Up/Down, Home and End scroll it; the End key also returns to the newest message.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer, type VirtualizerOptions } from '@tanstack/virtual-core';
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks';
import { loadHistory, me, type Conversation, type Message } from './state.js';

/** A row's height before it is measured (a one-line message). */
const ESTIMATE = 58;
/** The height kept above the first row for the "Show older messages" row (styles.css: .messages > li.older). */
const OLDER_ROW = 52;
/** How many rows from the top start the load of the page before (about a screenful at phone height). */
const LOAD_AHEAD = 8;

type Options = VirtualizerOptions<HTMLDivElement, HTMLLIElement>;

/** The virtualizer for one list, rendered again whenever it reports a change (the react-virtual adapter's way). */
function useVirtualizer(opts: Omit<Options, 'observeElementRect' | 'observeElementOffset' | 'scrollToFn' | 'onChange'>): Virtualizer<HTMLDivElement, HTMLLIElement> {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const full: Options = { ...opts, observeElementRect, observeElementOffset, scrollToFn: elementScroll, onChange: () => rerender(0) };
  const [v] = useState(() => new Virtualizer<HTMLDivElement, HTMLLIElement>(full));
  v.setOptions(full);
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => v._willUpdate());
  return v;
}

/** Props of the list: the conversation, and how to draw one message. */
export interface MessageListProps {
  peer: string;
  c: Conversation | undefined;
  /** Renders one message (the row around it is the list's). */
  row: (m: Message) => ComponentChildren;
  /** The id of a message to bring into view (a reply's quote was clicked), or null. */
  focusId: string | null;
  /** Called once the message of focusId is in view. */
  focused: () => void;
}

/** The virtualised message list of one conversation (give it `key={peer}`: one virtualizer per conversation). */
export function MessageList({ peer, c, row, focusId, focused }: MessageListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const messages = c?.messages ?? [];
  const older = c?.olderExist === true && messages.length > 0;
  const [loading, setLoading] = useState(false);
  // Older pages load only once the list has been shown at its end (else an empty list would load them all).
  const ready = useRef(false);
  const [, bump] = useState(0);
  const arrived = (): void => {
    ready.current = true;
    bump((n) => n + 1); // the load effect looks again
  };
  const v = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ESTIMATE,
    // Rows are keyed by message id: when a page is put in above, the virtualizer finds the row that was at the top
    // of the view by its key and keeps it there. The "older" row is not one of its rows but sits in the padding
    // above them, so that row is always a message.
    getItemKey: (i) => messages[i]!.id,
    overscan: 6,
    paddingStart: older ? OLDER_ROW : 12,
    paddingEnd: 12,
    anchorTo: 'end',
    followOnAppend: true,
    scrollEndThreshold: 24,
  });
  const items = v.getVirtualItems();
  const last = messages.at(-1);

  // Opening: straight to the newest message, once the first page is there. Older pages wait until the view has
  // arrived at the end (rows measured on the way change the distance), else the first frames, still at the top,
  // would load them and the anchor would then hold the view there.
  const asked = useRef(false);
  const fallback = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(fallback.current), []);
  const atEnd = (): boolean => {
    const el = scroller.current;
    return el !== null && el.scrollHeight - el.scrollTop - el.clientHeight < ESTIMATE;
  };
  useEffect(() => {
    if (ready.current || messages.length === 0) return;
    if (!asked.current) {
      asked.current = true;
      v.scrollToEnd();
      // Should the view never report the end (a list shorter than its pane scrolls no more), go on after a second.
      fallback.current = setTimeout(() => ready.current || arrived(), 1000);
    } else if (atEnd()) arrived();
  });
  // The user's own new message is always brought into view (others' only while at the end: followOnAppend).
  useEffect(() => {
    if (ready.current && last !== undefined && last.from === me.value?.address) v.scrollToEnd();
  }, [last?.id]);
  // Near the top: the page before.
  const first = items[0]?.index ?? 0;
  useEffect(() => {
    if (!ready.current || !older || loading || first > LOAD_AHEAD) return;
    setLoading(true);
    loadHistory(peer, true)
      .catch(() => undefined)
      .finally(() => setLoading(false));
  }, [first, older, loading, peer, ready.current]);
  // A reply's quote was clicked: bring the message it quotes into view, and focus it for keyboard users.
  useEffect(() => {
    if (focusId === null) return;
    const i = messages.findIndex((m) => m.id === focusId);
    if (i < 0) return;
    v.scrollToIndex(i, { align: 'center' });
    const t = setTimeout(() => {
      scroller.current?.querySelector<HTMLElement>(`[data-id="${CSS.escape(focusId)}"]`)?.focus();
      focused();
    }, 120);
    return () => clearTimeout(t);
  }, [focusId]);

  // The pane shrinking (the reply bar, an upload's progress, a phone's keyboard) keeps a reader at the end there.
  const endNow = useRef(true);
  useEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    const o = new ResizeObserver(() => {
      if (endNow.current && ready.current) v.scrollToEnd();
    });
    o.observe(el);
    return () => o.disconnect();
  }, []);
  const scrolled = (): void => {
    endNow.current = atEnd();
    if (!ready.current && asked.current && endNow.current) ready.current = true; // the scroll itself renders the list again
  };
  // The reader going up (a key or the wheel) is in charge from then on: older pages may load.
  const up = (): void => {
    if (!ready.current && asked.current) ready.current = true; // no render now: it would stop the key's smooth scroll
  };
  const key = (e: KeyboardEvent): void => {
    if (e.key === 'Home' || e.key === 'PageUp' || e.key === 'ArrowUp') up();
    // End always means the newest message, even before the rows near it are measured; Home the oldest loaded. Both
    // through the virtualizer, which would otherwise go on correcting towards a target of its own (the end).
    if (e.target !== e.currentTarget) return;
    if (e.key === 'End') {
      e.preventDefault();
      v.scrollToEnd();
    } else if (e.key === 'Home') {
      e.preventDefault();
      v.scrollToOffset(0);
    }
  };
  return (
    <div class="scroller" ref={scroller} tabIndex={0} role="region" aria-label="Message history (arrow keys, Page Up and Page Down scroll)" onKeyDown={key} onScroll={scrolled} onWheel={(e) => e.deltaY < 0 && up()}>
      <ol class="messages" aria-label="Messages" style={{ height: `${v.getTotalSize()}px` }}>
        {older && (
          <li class="older">
            <button type="button" disabled={loading} onClick={() => void loadHistory(peer, true)}>
              {loading ? 'Loading older messages…' : 'Show older messages'}
            </button>
          </li>
        )}
        {items.map((vi) => {
          const m = messages[vi.index]!;
          return (
            <li
              key={vi.key}
              data-index={vi.index}
              data-id={m.id}
              ref={v.measureElement}
              tabIndex={-1}
              class={m.from === me.value?.address ? 'mine' : 'theirs'}
              style={{ transform: `translateY(${vi.start}px)` }}
            >
              {row(m)}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
