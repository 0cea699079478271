/**
 * Service annotations read by Linode's Cloud Controller Manager
 * (linode/linode-cloud-controller-manager, cloud/annotations/annotations.go;
 * behaviour in cloud/linode/loadbalancers.go and cloud/linode/services/firewalls.go;
 * docs/configuration/annotations.md).
 */
const PREFIX = "service.beta.kubernetes.io/linode-loadbalancer-";

export const CCM_ANNOTATIONS = {
  /** Adopt this NodeBalancer instead of creating one. */
  nodeBalancerId: `${PREFIX}nodebalancer-id`,
  /** "true": never delete the NodeBalancer with the Service. */
  preserve: `${PREFIX}preserve`,
  /** Keep this firewall attached (attach it when missing); the CCM never deletes it. */
  firewallId: `${PREFIX}firewall-id`,
  /** The CCM creates and owns a firewall from this allow/deny list. */
  firewallAcl: `${PREFIX}firewall-acl`,
  /** Comma-separated tags the CCM sets after the cluster name on every sync. */
  tags: `${PREFIX}tags`,
  /** New connections per second per client IP (0 disables; the CCM's default is 0). */
  throttle: `${PREFIX}throttle`,
  /** Create the NodeBalancer on this reserved IPv4. */
  reservedIpv4: `${PREFIX}reserved-ipv4`,
  /** Keep the reserved IPv4 when the NodeBalancer is deleted (the CCM's default is true). */
  retainReservedIpv4: `${PREFIX}retain-reserved-ipv4`,
  protocol: `${PREFIX}default-protocol`,
  /** Per-port settings, JSON: `port-<n>` with "protocol" and "tls-secret-name" (loadbalancers.go, getPortConfig). */
  portPrefix: `${PREFIX}port-`,
  checkType: `${PREFIX}check-type`,
  checkPath: `${PREFIX}check-path`,
  checkInterval: `${PREFIX}check-interval`,
  checkTimeout: `${PREFIX}check-timeout`,
  checkAttempts: `${PREFIX}check-attempts`,
  checkPassive: `${PREFIX}check-passive`,
} as const;

/**
 * The `port-<n>` annotation that makes the NodeBalancer terminate HTTPS on that port with the
 * certificate in a `kubernetes.io/tls` Secret of the Service's namespace (the CCM reads its
 * tls.crt and tls.key: loadbalancers.go, getTLSCertInfo) and forward plain HTTP to the nodes.
 */
export function httpsPortAnnotation(port: number, tlsSecretName: string): Record<string, string> {
  return { [`${CCM_ANNOTATIONS.portPrefix}${port}`]: JSON.stringify({ protocol: "https", "tls-secret-name": tlsSecretName }) };
}

/** The `firewall-acl` annotation's JSON: an allow list (the CCM then sets inbound policy DROP). */
export function firewallAclAnnotation(cidrs: readonly string[]): string {
  return JSON.stringify({
    allowList: { ipv4: cidrs.filter((c) => !c.includes(":")), ipv6: cidrs.filter((c) => c.includes(":")) },
  });
}
