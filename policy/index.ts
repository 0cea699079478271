import { PolicyPack } from "@pulumi/policy";
import { RESOURCE_POLICIES, STACK_POLICIES } from "./policies";

new PolicyPack("redis-dr", {
  description: "The invariants redis-dr relies on: pinned, patched images; restricted pods; Redis spread over nodes; firewalled load balancers; protected data; HTTPS in prod, or TLS passed through to Redis and proven so; no secret in a ConfigMap.",
  enforcementLevel: "mandatory",
  policies: [...RESOURCE_POLICIES, ...STACK_POLICIES],
});
