/**
 * The MUC rooms one session is in, with its nick in each (XEP-0045): what muc.ts records on join and leave, and
 * what encode.ts asks when a room's traffic is addressed to the session. It moves with the session when stream
 * management resumes it on a new connection.
 */
export class RoomView {
  /** Room -> nick; null when in no room (leaveAll() frees the Map: an empty one costs about 300 bytes). */
  private joined: Map<string, string> | null = null;

  /** The nick this session uses in `room`, or undefined if it is not there. */
  nick(room: string): string | undefined {
    return this.joined?.get(room);
  }

  /** Records that this session is in `room` under `nick`; true if it was not in the room before. */
  enter(room: string, nick: string): boolean {
    this.joined ??= new Map();
    const entering = !this.joined.has(room);
    this.joined.set(room, nick);
    return entering;
  }

  /** Records that this session left `room`; false if it was not in it. */
  leave(room: string): boolean {
    return this.joined?.delete(room) ?? false;
  }

  /** Leaves every room; returns those it was in. */
  leaveAll(): string[] {
    const rooms = this.joined ? [...this.joined.keys()] : [];
    this.joined = null;
    return rooms;
  }

  /** A copy for the connection that resumes this session (XEP-0198); later changes on either side stay apart. */
  copy(): RoomView {
    const c = new RoomView();
    if (this.joined !== null) c.joined = new Map(this.joined);
    return c;
  }
}
