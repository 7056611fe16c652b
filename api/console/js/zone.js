// Wall-clock times on a team's clock. The API gives instants (RFC 3339) and the
// roster's IANA zone; the week views lay visits out by local time in that zone,
// whatever zone the browser is in. A "wall" time is the local reading encoded
// as if it were UTC milliseconds, so UTC getters read the local clock.

const QUARTER = 900000; // offsets change on quarter hours of UTC

/**
 * A clock for `zone` (an IANA name), or for no zone (null): then each time is
 * read on the clock its own offset names.
 */
export function zoneClock(zone) {
  const fmt = zone
    ? new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : null;
  const cache = new Map();
  /** The zone's offset at instant `ms`, in milliseconds. */
  function offsetMs(ms) {
    if (!fmt) return 0;
    const k = Math.floor(ms / QUARTER);
    let o = cache.get(k);
    if (o === undefined) {
      const p = Object.fromEntries(fmt.formatToParts(new Date(k * QUARTER)).map((x) => [x.type, x.value]));
      o = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - k * QUARTER;
      cache.set(k, o);
    }
    return o;
  }
  return {
    zone,
    label: zone ?? "the times' own offsets",
    /** Wall milliseconds of an RFC 3339 instant. */
    wall(iso) {
      if (!fmt) return Date.parse(`${iso.slice(0, 19)}Z`);
      const ms = Date.parse(iso);
      return Number.isNaN(ms) ? ms : ms + offsetMs(ms);
    },
    /** "HH:MM" of wall milliseconds. */
    hm(wall) {
      const d = new Date(wall);
      return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
    },
    /**
     * RFC 3339 of a local "YYYY-MM-DDTHH:MM" (a datetime-local value) in the
     * zone, with the offset in force then (UTC without a zone).
     */
    instant(local) {
      // Anything else (an empty field) goes as it is, for the API to name.
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(local)) return local;
      const w = Date.parse(`${local}:00Z`);
      const off = fmt ? offsetMs(w - offsetMs(w)) : 0;
      const m = Math.round(Math.abs(off) / 60000);
      const sign = off < 0 ? "-" : "+";
      return `${local}:00${sign}${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    },
  };
}
