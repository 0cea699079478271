import { z } from "zod";

/** An IPv4 or IPv6 CIDR, as the firewalls and the CCM's ACL take it. */
export const cidr = z
  .string()
  .regex(/^(([0-9]{1,3}\.){3}[0-9]{1,3}\/[0-9]{1,2}|[0-9a-fA-F:]+\/[0-9]{1,3})$/, "must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24");
