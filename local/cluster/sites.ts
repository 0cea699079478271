/**
 * The pod networks of the local runtime on this machine: each is a bridge with its own link
 * prefix and /24, so `npm start`, a drill and the test suites run side by side. A bridge
 * removes every namespace under `<prefix>-` when it is set up, so no prefix may start with
 * another's `<prefix>-`; test/helpers/suiteNetworks.ts holds the suites' own, and a test
 * checks the whole list.
 */
export const LOCAL_SITES = {
  start: { prefix: "rdr", subnet: "10.231.0" },
  drill: { prefix: "rdrd", subnet: "10.231.1" },
  bench: { prefix: "rdrk", subnet: "10.231.2" },
} as const;

export type PodNetworkSite = { prefix: string; subnet: string };
