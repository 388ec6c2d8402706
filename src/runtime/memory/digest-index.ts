/**
 * An open-addressed hash index from 32-byte digests (SHA-256 or HMAC-SHA-256 of a key) to entry
 * numbers, in a typed array. At a million cached keys, a `Map` keyed by the base64url hash costs a
 * bucket, the stored 43-character string, lru-cache's value and recency arrays: each a CPU cache
 * (and TLB) miss per lookup. Here a slot is two adjacent int32s: the digest's first 4 bytes and
 * the entry number; the digest itself is compared once, on the entry the slot points to.
 *
 * - Slot: the digest's first 4 bytes, masked (the digest is uniformly distributed already). The
 *   slot keeps all 32 bits, so a probe passes over other digests without reading them.
 * - Match: the whole digest, as a string (`===` on two 32-byte strings is a few dozen
 *   instructions; reading its characters into words was measured to cost more, not less).
 * - Collisions: linear probing; the table is at most half full, so runs stay short and a lookup
 *   always ends at an empty slot. Removal is backward-shift deletion (no tombstones).
 * - Bounded: at most `capacity` entries. The table starts small and doubles as entries arrive.
 * - Eviction: CLOCK (second chance), not exact LRU. A lookup sets the entry's reference bit (in
 *   the slot it has just read, so no other memory is touched); an entry is inserted without it.
 *   When full, the hand walks entry numbers, clears the bits it passes and evicts the first
 *   entry found without one: an entry used since the hand last passed survives, one never used
 *   since it was inserted goes first (keys used once in a burst make room for each other before
 *   they push out keys in use). Unlike lru-cache, a hit writes nothing but that bit, and only once.
 *
 * Digests are strings of 32 one-byte characters (crypto's `'binary'`, i.e. latin1, output): the
 * hash of a key needs no Buffer (allocating one per hash made it markedly slower) and no base64.
 *
 * Comparing digests of secrets (never the secrets themselves) is the established practice here:
 * a timing difference reveals at most how much of a SHA-256 digest matched, not the key.
 *
 * Why, the measurements, the variants tried and dropped, and the oracle test against a `Map`:
 * docs/hot-path.md#digest-index.
 */

/** Int32 words per slot: the digest's first word, then the entry's number + 1 (0: empty) and its reference bit. */
const STRIDE = 2;
const TAG = 1;
const REF = 0x40000000;
const NUMBER = REF - 1;
/** Entry numbers share a word with the reference bit. */
export const MAX_ENTRIES = NUMBER - 1;
export const DIGEST_LENGTH = 32;

/** The first 4 bytes of a digest of one-byte characters, little-endian. */
function head(d: string): number {
  return d.charCodeAt(0) | (d.charCodeAt(1) << 8) | (d.charCodeAt(2) << 16) | (d.charCodeAt(3) << 24);
}

/** Slots for `room` entries: a power of two, at least twice as many (the load stays ≤ 0.5). */
function slotCountFor(room: number): number {
  let n = 8;
  while (n < room * 2) n *= 2;
  return n;
}

export class DigestIndex {
  /** STRIDE words per slot. */
  private slots: Int32Array;
  private mask: number;
  /** Entry number → its slot, or -1 for a free number (a backward shift moves entries between slots). */
  private slotOf: Int32Array;
  /** Entry number → its digest. */
  private digests: (string | undefined)[] = [];
  /** Entry numbers handed out so far; numbers below are in use or in `freed`. */
  private issued = 0;
  private freed: number[] = [];
  private count = 0;
  /** CLOCK hand: the next entry number eviction looks at. */
  private hand = 0;

  /**
   * @param capacity most entries held
   * @param initialRoom entries the first table is sized for (it doubles up to `capacity`)
   */
  constructor(
    readonly capacity: number,
    private readonly initialRoom = 1024,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_ENTRIES) {
      throw new RangeError(`capacity must be an integer from 1 to ${MAX_ENTRIES}`);
    }
    const room = Math.min(capacity, Math.max(1, initialRoom));
    this.slots = new Int32Array(slotCountFor(room) * STRIDE);
    this.mask = this.slots.length / STRIDE - 1;
    this.slotOf = new Int32Array(room).fill(-1);
  }

  get size(): number {
    return this.count;
  }

  /** The entry number of a digest, or -1; marks the entry as used (for eviction). */
  find(d: string): number {
    const s = this.locate(d);
    if (s < 0) return -1;
    const t = this.slots;
    const tag = t[s * STRIDE + TAG] ?? 0;
    // Write only when the bit changes: a hot entry's line is not dirtied on every lookup.
    if ((tag & REF) === 0) t[s * STRIDE + TAG] = tag | REF;
    return (tag & NUMBER) - 1;
  }

  /** The entry number of a digest, or -1, leaving its reference bit as it is. */
  peek(d: string): number {
    const s = this.locate(d);
    return s < 0 ? -1 : ((this.slots[s * STRIDE + TAG] ?? 0) & NUMBER) - 1;
  }

  /**
   * Adds a digest that is not in the index and returns its entry number (the lowest freed one, or
   * a new one). The index must not be full: the caller evicts first, to drop what it keeps for
   * the evicted number.
   */
  insert(d: string): number {
    if (d.length !== DIGEST_LENGTH) throw new TypeError(`a digest is ${DIGEST_LENGTH} one-byte characters`);
    if (this.count >= this.capacity) throw new RangeError('the index is full: evict an entry first');
    if (this.freed.length === 0 && this.issued === this.slotOf.length) this.grow();
    const e = this.freed.pop() ?? this.issued++;
    const t = this.slots;
    const mask = this.mask;
    const w0 = head(d);
    let s = w0 & mask;
    while ((t[s * STRIDE + TAG] ?? 0) !== 0) s = (s + 1) & mask;
    t[s * STRIDE] = w0;
    t[s * STRIDE + TAG] = e + 1;
    this.slotOf[e] = s;
    this.digests[e] = d;
    this.count++;
    return e;
  }

  /** Removes an entry by number (no-op for a free number). */
  remove(e: number): void {
    const s = this.slotOf[e] ?? -1;
    if (s >= 0) this.removeAt(s);
  }

  /**
   * Removes the entry CLOCK chooses and returns its number: from the hand on, the first entry
   * whose reference bit is clear; the bits passed over are cleared (a second chance each).
   */
  evict(): number {
    if (this.count === 0) throw new RangeError('nothing to evict');
    const t = this.slots;
    // At most two turns: the first clears every bit it passes, the second finds a clear one.
    for (;;) {
      if (this.hand >= this.issued) this.hand = 0;
      const e = this.hand++;
      const s = this.slotOf[e] ?? -1;
      if (s < 0) continue;
      const tag = t[s * STRIDE + TAG] ?? 0;
      if ((tag & REF) !== 0) {
        t[s * STRIDE + TAG] = tag & NUMBER;
        continue;
      }
      this.removeAt(s);
      return e;
    }
  }

  /** Forgets every entry and gives the memory back (the table starts small again). */
  clear(): void {
    const room = Math.min(this.capacity, Math.max(1, this.initialRoom));
    this.slots = new Int32Array(slotCountFor(room) * STRIDE);
    this.mask = this.slots.length / STRIDE - 1;
    this.slotOf = new Int32Array(room).fill(-1);
    this.digests = [];
    this.issued = 0;
    this.freed = [];
    this.count = 0;
    this.hand = 0;
  }

  /** The slot holding the digest, or -1. Probing ends at an empty slot (there always is one). */
  private locate(d: string): number {
    if (d.length !== DIGEST_LENGTH) return -1;
    const t = this.slots;
    const mask = this.mask;
    const w0 = head(d);
    for (let s = w0 & mask; ; s = (s + 1) & mask) {
      const tag = t[s * STRIDE + TAG] ?? 0;
      if (tag === 0) return -1;
      if (t[s * STRIDE] === w0 && this.digests[(tag & NUMBER) - 1] === d) return s;
    }
  }

  /**
   * Backward-shift deletion: each entry after the hole, up to the next empty slot, moves into the
   * hole if the hole lies on its probe path (between its home slot and where it sits), so every
   * entry stays reachable from its home without tombstones.
   */
  private removeAt(s: number): void {
    const t = this.slots;
    const mask = this.mask;
    const e = ((t[s * STRIDE + TAG] ?? 0) & NUMBER) - 1;
    this.slotOf[e] = -1;
    this.digests[e] = undefined;
    this.freed.push(e);
    this.count--;
    let hole = s;
    for (let j = (s + 1) & mask; ; j = (j + 1) & mask) {
      const b = j * STRIDE;
      const tag = t[b + TAG] ?? 0;
      if (tag === 0) break;
      const home = (t[b] ?? 0) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        t.copyWithin(hole * STRIDE, b, b + STRIDE);
        this.slotOf[(tag & NUMBER) - 1] = hole;
        hole = j;
      }
    }
    t.fill(0, hole * STRIDE, hole * STRIDE + STRIDE);
  }

  /** Doubles the room for entry numbers (up to the capacity) and rehashes into a table twice as large. */
  private grow(): void {
    const room = Math.min(this.capacity, this.slotOf.length * 2);
    const slotOf = new Int32Array(room).fill(-1);
    const old = this.slots;
    const t = new Int32Array(slotCountFor(room) * STRIDE);
    const mask = t.length / STRIDE - 1;
    for (let b = 0; b < old.length; b += STRIDE) {
      const tag = old[b + TAG] ?? 0;
      if (tag === 0) continue;
      let s = (old[b] ?? 0) & mask;
      while ((t[s * STRIDE + TAG] ?? 0) !== 0) s = (s + 1) & mask;
      t.set(old.subarray(b, b + STRIDE), s * STRIDE);
      slotOf[(tag & NUMBER) - 1] = s;
    }
    this.slots = t;
    this.mask = mask;
    this.slotOf = slotOf;
  }
}
