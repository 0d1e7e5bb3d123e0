//! Services' rules as one nftables table, kube-proxy's semantics (its
//! nftables mode) on one node. Pure: from the Services a pass left to the
//! libnftables JSON document that replaces the table, so unit tests read it.
//!
//! The table (`ip` family: pods have IPv4 addresses):
//! - `nat-prerouting` (pods, other hosts) and `nat-output` (this host) jump
//!   to `services`, which looks up `ip daddr . l4proto . dport` among the
//!   cluster IPs' ports and, for the node's own addresses (not loopback),
//!   `l4proto . dport` among the node ports; a match goes to the Service
//!   port's chain.
//! - A Service port's chain picks an endpoint at random (`numgen random mod
//!   N`); with `sessionAffinity: ClientIP` a client seen within the timeout
//!   (a dynamic set per endpoint) goes back to the endpoint it had.
//! - An endpoint's chain marks the connection (0x4000, kube-proxy's bit) and
//!   DNATs it to the pod's address and target port; `nat-postrouting`
//!   masquerades marked connections, so replies come back through this host
//!   even when client and endpoint share a bridge without br_netfilter.
//! - A Service port with no endpoints is rejected by the filter chains on
//!   the forward and output hooks (its node port on the input hook), with a
//!   TCP reset or ICMP port unreachable: a client is refused at once, not
//!   left waiting.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{EndpointSubset, ServicePort};
use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, NgMode,
    Numgen, Payload, PayloadField, Prefix, SetItem, Verdict,
};
use nftables::schema::{
    Chain, Element, FlushObject, NfCmd, NfListObject, NfObject, Nftables, Rule, Set, SetFlag,
    SetType, SetTypeValue, Table,
};
use nftables::stmt::{self, JumpTarget, Match, Operator, Statement, VerdictMap, NAT};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::controllers::endpoints::Served;
use crate::objects::is_headless;

/// The packet mark bit of connections to masquerade (kube-proxy's).
const MASQUERADE_MARK: u32 = 0x4000;
/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds`.
const DEFAULT_AFFINITY_TIMEOUT: u32 = 10800;
/// Hook priorities: NAT at `dstnat`/`srcnat`; the rejecting filters just
/// before `filter` (kube-proxy's choice), so a host's own filter rules see
/// only connections that have somewhere to go.
const DSTNAT: i32 = -100;
const SRCNAT: i32 = 100;
const REJECT_FILTER: i32 = -10;

const SERVICES: &str = "services";

/// A transport protocol of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Proto {
    /// From a Service's `protocol` (TCP when absent).
    fn parse(protocol: Option<&str>) -> Option<Proto> {
        match protocol.unwrap_or("TCP") {
            "TCP" => Some(Proto::Tcp),
            "UDP" => Some(Proto::Udp),
            "SCTP" => Some(Proto::Sctp),
            _ => None,
        }
    }

    /// nftables' name of it.
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// A pod serving a Service port: its address and the port it listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Backend {
    /// The pod's address.
    pub(crate) ip: Ipv4Addr,
    /// Its target port.
    pub(crate) port: u16,
}

/// One port of a proxied Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxiedPort {
    /// Its protocol.
    pub(crate) protocol: Proto,
    /// The Service's port.
    pub(crate) port: u16,
    /// The node port, for NodePort and LoadBalancer Services.
    pub(crate) node_port: Option<u16>,
    /// The ready endpoints, sorted.
    pub(crate) backends: Vec<Backend>,
}

/// A Service with a cluster IP, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxied {
    /// Its namespace.
    pub(crate) namespace: String,
    /// Its name.
    pub(crate) name: String,
    /// Its cluster IP.
    pub(crate) cluster_ip: Ipv4Addr,
    /// `sessionAffinity: ClientIP`'s timeout in seconds.
    pub(crate) affinity: Option<u32>,
    /// Its ports.
    pub(crate) ports: Vec<ProxiedPort>,
}

/// The Services that get rules (those with a cluster IP: not headless, not
/// ExternalName), with the ready endpoints of each port.
pub(crate) fn proxied(served: &[Served]) -> Vec<Proxied> {
    served.iter().filter_map(proxied_one).collect()
}

fn proxied_one(served: &Served) -> Option<Proxied> {
    let svc = &served.service;
    let spec = svc.spec.as_ref()?;
    if is_headless(svc) || spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let cluster_ip: Ipv4Addr = spec.cluster_ip.as_deref()?.parse().ok()?;
    let node_ports = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
    let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(ProxiedPort {
                protocol: Proto::parse(p.protocol.as_deref())?,
                port: u16::try_from(p.port).ok()?,
                node_port: p
                    .node_port
                    .filter(|_| node_ports)
                    .and_then(|n| u16::try_from(n).ok()),
                backends: backends(p, &served.subsets),
            })
        })
        .collect();
    Some(Proxied {
        namespace: svc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| crate::store::DEFAULT_NAMESPACE.to_string()),
        name: svc.metadata.name.clone()?,
        cluster_ip,
        affinity,
        ports,
    })
}

/// The ready addresses serving `port`: the endpoint port of the same name
/// (unnamed for a Service's single unnamed port) and protocol.
fn backends(port: &ServicePort, subsets: &[EndpointSubset]) -> Vec<Backend> {
    let name = port.name.as_deref().unwrap_or_default();
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let mut all = BTreeSet::new();
    for subset in subsets {
        let Some(target) = subset.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or_default() == name
                && p.protocol.as_deref().unwrap_or("TCP") == protocol
        }) else {
            continue;
        };
        let Ok(target) = u16::try_from(target.port) else {
            continue;
        };
        for address in subset.addresses.iter().flatten() {
            if let Ok(ip) = address.ip.parse() {
                all.insert(Backend { ip, port: target });
            }
        }
    }
    all.into_iter().collect()
}

/// The name of the table for a podrt root: `podrt` for the default root,
/// `podrt-<hash>` for any other, so two roots on one host keep apart.
pub(crate) fn table_name(root: &std::path::Path) -> String {
    if root == std::path::Path::new(podrt_sandbox::state::paths::DEFAULT_ROOT) {
        return "podrt".to_string();
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in root.as_os_str().as_encoded_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("podrt-{hash:08x}")
}

/// The document that removes `table` if it is there (adding it first makes
/// the delete succeed either way, in the same transaction).
pub(crate) fn removal(table: &str) -> Nftables<'static> {
    let t = || {
        NfListObject::Table(Table {
            family: NfFamily::IP,
            name: Cow::Owned(table.to_string()),
            handle: None,
        })
    };
    document(vec![
        NfObject::CmdObject(NfCmd::Add(t())),
        NfObject::CmdObject(NfCmd::Delete(t())),
    ])
}

fn document(objects: Vec<NfObject<'static>>) -> Nftables<'static> {
    Nftables {
        objects: Cow::Owned(objects),
    }
}

/// The rules for `services` in `table`: the commands that add them, and the
/// names of the chains and sets they make.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ruleset {
    adds: Vec<NfObject<'static>>,
    /// Every chain's name.
    pub(crate) chains: BTreeSet<String>,
    /// Every named set's name.
    pub(crate) sets: BTreeSet<String>,
}

impl Ruleset {
    /// The document that replaces whatever `table` holds with these rules, in
    /// one transaction (connections already made keep their NAT in conntrack).
    pub(crate) fn replacing(&self, table: &str) -> Nftables<'static> {
        let mut objects = removal(table).objects.into_owned();
        objects.extend(self.adds.iter().cloned());
        document(objects)
    }

    /// The document that turns `table`, holding the rules `before` made, into
    /// these, in one transaction: every rule flushed and written again, the
    /// chains and sets no longer wanted deleted, and the sets that stay kept
    /// with their elements, so ClientIP affinity outlives the change.
    pub(crate) fn updating(&self, table: &str, before: &Ruleset) -> Nftables<'static> {
        let t = || Table {
            family: NfFamily::IP,
            name: Cow::Owned(table.to_string()),
            handle: None,
        };
        let mut objects = vec![
            NfObject::CmdObject(NfCmd::Add(NfListObject::Table(t()))),
            NfObject::CmdObject(NfCmd::Flush(FlushObject::Table(t()))),
        ];
        for chain in before.chains.difference(&self.chains) {
            objects.push(NfObject::CmdObject(NfCmd::Delete(NfListObject::Chain(
                Chain {
                    family: NfFamily::IP,
                    table: Cow::Owned(table.to_string()),
                    name: Cow::Owned(chain.clone()),
                    newname: None,
                    handle: None,
                    _type: None,
                    hook: None,
                    prio: None,
                    dev: None,
                    policy: None,
                },
            ))));
        }
        for set in before.sets.difference(&self.sets) {
            objects.push(NfObject::CmdObject(NfCmd::Delete(NfListObject::Set(
                Box::new(Set {
                    family: NfFamily::IP,
                    table: Cow::Owned(table.to_string()),
                    name: Cow::Owned(set.clone()),
                    handle: None,
                    set_type: SetTypeValue::Single(SetType::Ipv4Addr),
                    policy: None,
                    flags: None,
                    elem: None,
                    timeout: None,
                    gc_interval: None,
                    size: None,
                    comment: None,
                }),
            ))));
        }
        // A set that stays is not added again: the kernel holds it as
        // libnftables made it (dynamic, for the rules that update it), which
        // an add with the flags as written would clash with.
        objects.extend(
            self.adds
                .iter()
                .filter(|o| match o {
                    NfObject::CmdObject(NfCmd::Add(NfListObject::Set(set))) => {
                        !before.sets.contains(set.name.as_ref())
                    }
                    _ => true,
                })
                .cloned(),
        );
        document(objects)
    }
}

/// The rules for `services` in `table`.
pub(crate) fn ruleset(table: &str, services: &[Proxied]) -> Ruleset {
    let mut b = Builder {
        table: table.to_string(),
        objects: Vec::new(),
        chains: BTreeSet::new(),
        sets: BTreeSet::new(),
    };
    b.add(NfListObject::Table(Table {
        family: NfFamily::IP,
        name: Cow::Owned(table.to_string()),
        handle: None,
    }));
    b.base_chains();
    let mut service_ips = Vec::new();
    let mut nodeports = Vec::new();
    let mut no_ips = Vec::new();
    let mut no_nodeports = Vec::new();
    for svc in services {
        for port in &svc.ports {
            let key = concat(vec![
                string(svc.cluster_ip.to_string()),
                string(port.protocol.as_str()),
                Expression::Number(u32::from(port.port)),
            ]);
            let node_key = port.node_port.map(|n| {
                concat(vec![
                    string(port.protocol.as_str()),
                    Expression::Number(u32::from(n)),
                ])
            });
            if port.backends.is_empty() {
                no_ips.push(SetItem::Element(key));
                no_nodeports.extend(node_key.map(SetItem::Element));
                continue;
            }
            let chain = b.service_port(svc, port);
            service_ips.push(SetItem::Mapping(key, goto(&chain)));
            if let Some(k) = node_key {
                nodeports.push(SetItem::Mapping(k, goto(&chain)));
            }
        }
    }
    b.lookups(service_ips, nodeports, no_ips, no_nodeports);
    Ruleset {
        adds: b.objects,
        chains: b.chains,
        sets: b.sets,
    }
}

/// Accumulates one table's commands.
struct Builder {
    table: String,
    objects: Vec<NfObject<'static>>,
    chains: BTreeSet<String>,
    sets: BTreeSet<String>,
}

impl Builder {
    fn add(&mut self, object: NfListObject<'static>) {
        self.objects.push(NfObject::CmdObject(NfCmd::Add(object)));
    }

    fn chain(&mut self, name: &str, hook: Option<(NfChainType, NfHook, i32)>) {
        self.chains.insert(name.to_string());
        self.add(NfListObject::Chain(Chain {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            newname: None,
            handle: None,
            _type: hook.map(|h| h.0),
            hook: hook.map(|h| h.1),
            prio: hook.map(|h| h.2),
            dev: None,
            policy: hook.map(|_| NfChainPolicy::Accept),
        }));
    }

    fn rule(&mut self, chain: &str, statements: Vec<Statement<'static>>) {
        self.add(NfListObject::Rule(Rule {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.clone()),
            chain: Cow::Owned(chain.to_string()),
            expr: Cow::Owned(statements),
            handle: None,
            index: None,
            comment: None,
        }));
    }

    /// The hooked chains and the `services` dispatch, the same for any set
    /// of Services.
    fn base_chains(&mut self) {
        use NfChainType::{Filter, NAT as Nat};
        self.chain("nat-prerouting", Some((Nat, NfHook::Prerouting, DSTNAT)));
        self.chain("nat-output", Some((Nat, NfHook::Output, DSTNAT)));
        self.chain("nat-postrouting", Some((Nat, NfHook::Postrouting, SRCNAT)));
        self.chain("filter-input", Some((Filter, NfHook::Input, REJECT_FILTER)));
        self.chain(
            "filter-forward",
            Some((Filter, NfHook::Forward, REJECT_FILTER)),
        );
        self.chain(
            "filter-output",
            Some((Filter, NfHook::Output, REJECT_FILTER)),
        );
        self.chain(SERVICES, None);
        for hooked in ["nat-prerouting", "nat-output"] {
            self.rule(hooked, vec![jump(SERVICES)]);
        }
        // Marked by an endpoint chain: masquerade, and clear the bit so a
        // packet that goes on (another netns) is not marked there.
        let mark = || meta(MetaKey::Mark);
        self.rule(
            "nat-postrouting",
            vec![
                matches(
                    binop(BinaryOperation::AND(mark(), number(MASQUERADE_MARK))),
                    number(0),
                    Operator::EQ,
                ),
                Statement::Return(None),
            ],
        );
        self.rule(
            "nat-postrouting",
            vec![
                Statement::Mangle(stmt::Mangle {
                    key: mark(),
                    value: binop(BinaryOperation::XOR(mark(), number(MASQUERADE_MARK))),
                }),
                Statement::Masquerade(None),
            ],
        );
    }

    /// The lookups of `services` and of the rejecting filters. Anonymous
    /// maps and sets in the rules themselves: the table is replaced whole at
    /// each change, so nothing is gained by updating named ones in place.
    fn lookups(
        &mut self,
        service_ips: Vec<SetItem<'static>>,
        nodeports: Vec<SetItem<'static>>,
        no_ips: Vec<SetItem<'static>>,
        no_nodeports: Vec<SetItem<'static>>,
    ) {
        let ip_tuple = || {
            concat(vec![
                payload("ip", "daddr"),
                meta(MetaKey::L4proto),
                dport(),
            ])
        };
        let port_tuple = || concat(vec![meta(MetaKey::L4proto), dport()]);
        let set = |items| Expression::Named(NamedExpression::Set(items));
        if !service_ips.is_empty() {
            self.rule(
                SERVICES,
                vec![Statement::VerdictMap(VerdictMap {
                    key: ip_tuple(),
                    data: set(service_ips),
                })],
            );
        }
        if !nodeports.is_empty() {
            let mut local = local_not_loopback();
            local.push(Statement::VerdictMap(VerdictMap {
                key: port_tuple(),
                data: set(nodeports),
            }));
            self.rule(SERVICES, local);
        }
        if !no_ips.is_empty() {
            for chain in ["filter-forward", "filter-output"] {
                self.rejecting(chain, Vec::new(), ip_tuple(), set(no_ips.clone()));
            }
        }
        if !no_nodeports.is_empty() {
            self.rejecting(
                "filter-input",
                local_not_loopback(),
                port_tuple(),
                set(no_nodeports),
            );
        }
    }

    /// Rules in `chain` that refuse what `before` and `key` in `set` match:
    /// a TCP reset for TCP (ICMP errors are rate-limited, so a client could
    /// wait for its retransmissions), ICMP port unreachable for the rest.
    fn rejecting(
        &mut self,
        chain: &str,
        before: Vec<Statement<'static>>,
        key: Expression<'static>,
        set: Expression<'static>,
    ) {
        let mut tcp = before.clone();
        tcp.push(matches(meta(MetaKey::L4proto), string("tcp"), Operator::EQ));
        tcp.push(matches(key.clone(), set.clone(), Operator::EQ));
        tcp.push(Statement::Reject(Some(stmt::Reject::new(
            Some(stmt::RejectType::TCPReset),
            None,
        ))));
        self.rule(chain, tcp);
        let mut other = before;
        other.push(matches(key, set, Operator::EQ));
        other.push(Statement::Reject(None));
        self.rule(chain, other);
    }

    fn set(
        &mut self,
        name: &str,
        key: SetTypeValue<'static>,
        elements: Vec<Expression<'static>>,
        timeout: Option<u32>,
    ) {
        self.sets.insert(name.to_string());
        self.add(NfListObject::Set(Box::new(Set {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            handle: None,
            set_type: key,
            policy: None,
            // Only `timeout`: libnftables 1.0.6 takes no `dynamic` in JSON, and
            // marks a set that a rule updates dynamic itself.
            flags: timeout.map(|_| [SetFlag::Timeout].into_iter().collect()),
            elem: None,
            timeout,
            gc_interval: None,
            size: None,
            comment: None,
        })));
        self.elements(name, elements);
    }

    fn elements(&mut self, name: &str, elements: Vec<Expression<'static>>) {
        if elements.is_empty() {
            return;
        }
        self.add(NfListObject::Element(Element {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.clone()),
            name: Cow::Owned(name.to_string()),
            elem: Cow::Owned(elements),
        }));
    }

    /// The chains of one Service port with endpoints; its chain's name.
    fn service_port(&mut self, svc: &Proxied, port: &ProxiedPort) -> String {
        let chain = format!(
            "svc_{}_{}_{}_{}",
            svc.namespace,
            svc.name,
            port.protocol.as_str(),
            port.port
        );
        self.chain(&chain, None);
        let mut picks = Vec::new();
        for (i, backend) in port.backends.iter().enumerate() {
            // Named by the endpoint, not its place: a client's affinity set
            // stays its endpoint's when others come and go (and a new
            // timeout makes a new set).
            let at = format!("{}_{}", backend.ip, backend.port).replace('.', "-");
            let endpoint = format!("{chain}_ep_{at}");
            let affinity = format!("{chain}_aff{}_{at}", svc.affinity.unwrap_or_default());
            self.chain(&endpoint, None);
            let mut rule = vec![Statement::Mangle(stmt::Mangle {
                key: meta(MetaKey::Mark),
                value: binop(BinaryOperation::OR(vec![
                    meta(MetaKey::Mark),
                    number(MASQUERADE_MARK),
                ])),
            })];
            if let Some(timeout) = svc.affinity {
                self.set(
                    &affinity,
                    SetTypeValue::Single(SetType::Ipv4Addr),
                    Vec::new(),
                    Some(timeout),
                );
                // A client already seen goes back where it went.
                self.rule(
                    &chain,
                    vec![
                        matches(
                            payload("ip", "saddr"),
                            string(format!("@{affinity}")),
                            Operator::EQ,
                        ),
                        Statement::Goto(JumpTarget {
                            target: Cow::Owned(endpoint.clone()),
                        }),
                    ],
                );
                rule.push(Statement::Set(stmt::Set {
                    op: stmt::SetOp::Update,
                    elem: payload("ip", "saddr"),
                    set: Cow::Owned(format!("@{affinity}")),
                }));
            }
            rule.push(matches(
                meta(MetaKey::L4proto),
                string(port.protocol.as_str()),
                Operator::EQ,
            ));
            rule.push(Statement::DNAT(Some(NAT {
                addr: Some(string(backend.ip.to_string())),
                family: None,
                port: Some(number(u32::from(backend.port))),
                flags: None,
            })));
            self.rule(&endpoint, rule);
            picks.push(SetItem::Mapping(
                number(u32::try_from(i).unwrap_or(u32::MAX)),
                goto(&endpoint),
            ));
        }
        let count = u32::try_from(port.backends.len()).unwrap_or(u32::MAX);
        self.rule(
            &chain,
            vec![Statement::VerdictMap(VerdictMap {
                key: Expression::Named(NamedExpression::Numgen(Numgen {
                    mode: NgMode::Random,
                    ng_mod: count,
                    offset: None,
                })),
                data: Expression::Named(NamedExpression::Set(picks)),
            })],
        );
        chain
    }
}

fn string(s: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(s.into()))
}

fn number(n: u32) -> Expression<'static> {
    Expression::Number(n)
}

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

/// The transport header's destination port, whatever the protocol.
fn dport() -> Expression<'static> {
    payload("th", "dport")
}

fn concat(parts: Vec<Expression<'static>>) -> Expression<'static> {
    Expression::Named(NamedExpression::Concat(parts))
}

fn binop(op: BinaryOperation<'static>) -> Expression<'static> {
    Expression::BinaryOperation(Box::new(op))
}

fn matches(
    left: Expression<'static>,
    right: Expression<'static>,
    op: Operator,
) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn jump(target: &str) -> Statement<'static> {
    Statement::Jump(JumpTarget {
        target: Cow::Owned(target.to_string()),
    })
}

fn goto(target: &str) -> Expression<'static> {
    Expression::Verdict(Verdict::Goto(JumpTarget {
        target: Cow::Owned(target.to_string()),
    }))
}

/// `fib daddr type local ip daddr != 127.0.0.0/8`: addressed to this node,
/// not through loopback (which NAT to a pod cannot leave).
fn local_not_loopback() -> Vec<Statement<'static>> {
    vec![
        matches(
            Expression::Named(NamedExpression::Fib(Fib {
                result: FibResult::Type,
                flags: [FibFlag::Daddr].into_iter().collect(),
            })),
            string("local"),
            Operator::EQ,
        ),
        matches(
            payload("ip", "daddr"),
            Expression::Named(NamedExpression::Prefix(Prefix {
                addr: Box::new(string("127.0.0.0")),
                len: 8,
            })),
            Operator::NEQ,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Service, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn served(type_: &str, cluster_ip: &str, affinity: bool, ips: &[&str]) -> Served {
        Served {
            service: Service {
                metadata: ObjectMeta {
                    name: Some("web".into()),
                    namespace: Some("default".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(ServiceSpec {
                    type_: Some(type_.into()),
                    cluster_ip: Some(cluster_ip.into()),
                    session_affinity: affinity.then(|| "ClientIP".into()),
                    ports: Some(vec![ServicePort {
                        name: Some("http".into()),
                        port: 80,
                        protocol: Some("TCP".into()),
                        node_port: Some(30080),
                        ..ServicePort::default()
                    }]),
                    ..ServiceSpec::default()
                }),
                ..Service::default()
            },
            subsets: vec![EndpointSubset {
                addresses: Some(
                    ips.iter()
                        .map(|ip| EndpointAddress {
                            ip: ip.to_string(),
                            ..EndpointAddress::default()
                        })
                        .collect(),
                ),
                ports: Some(vec![EndpointPort {
                    name: Some("http".into()),
                    port: 8080,
                    protocol: Some("TCP".into()),
                    ..EndpointPort::default()
                }]),
                ..EndpointSubset::default()
            }]
            .into_iter()
            .filter(|_| !ips.is_empty())
            .collect(),
        }
    }

    fn json(served: &[Served]) -> String {
        serde_json::to_string(&ruleset("podrt", &proxied(served)).replacing("podrt"))
            .expect("encode")
    }

    #[test]
    fn a_service_port_spreads_over_its_endpoints_by_name() {
        let p = proxied(&[served(
            "NodePort",
            "10.96.0.10",
            false,
            &["10.88.0.3", "10.88.0.2"],
        )]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].cluster_ip, Ipv4Addr::new(10, 96, 0, 10));
        assert_eq!(p[0].ports[0].node_port, Some(30080));
        assert_eq!(
            p[0].ports[0].backends,
            vec![
                Backend {
                    ip: Ipv4Addr::new(10, 88, 0, 2),
                    port: 8080
                },
                Backend {
                    ip: Ipv4Addr::new(10, 88, 0, 3),
                    port: 8080
                },
            ]
        );
        let text = json(&[served(
            "NodePort",
            "10.96.0.10",
            false,
            &["10.88.0.3", "10.88.0.2"],
        )]);
        assert!(
            text.contains(r#""numgen":{"mode":"random","mod":2}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""dnat":{"addr":"10.88.0.2","port":8080}"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"[{"concat":["tcp",30080]},{"goto":{"target":"svc_default_web_tcp_80"}}]"#
            ),
            "{text}"
        );
        assert!(!text.contains("reject"), "{text}");
    }

    #[test]
    fn a_service_without_endpoints_is_rejected_and_a_cluster_ip_one_has_no_node_port() {
        let text = json(&[served("ClusterIP", "10.96.0.11", false, &[])]);
        assert!(
            text.contains(r#"{"concat":["10.96.0.11","tcp",80]}"#),
            "{text}"
        );
        assert!(text.contains(r#""reject":null"#), "{text}");
        assert!(text.contains(r#""reject":{"type":"tcp reset"}"#), "{text}");
        assert!(!text.contains("30080"), "{text}");
        assert!(!text.contains("dnat"), "{text}");
    }

    #[test]
    fn client_ip_affinity_remembers_each_endpoints_clients() {
        let text = json(&[served("ClusterIP", "10.96.0.12", true, &["10.88.0.2"])]);
        assert!(text.contains(r#""timeout":10800"#), "{text}");
        assert!(text.contains(r#""op":"update""#), "{text}");
        assert!(
            text.contains(r#""set":"@svc_default_web_tcp_80_aff10800_10-88-0-2_8080""#),
            "{text}"
        );
    }

    #[test]
    fn headless_services_get_no_rules_and_the_table_name_follows_the_root() {
        assert!(proxied(&[served("ClusterIP", "None", false, &["10.88.0.2"])]).is_empty());
        assert_eq!(table_name(std::path::Path::new("/run/podrt")), "podrt");
        let other = table_name(std::path::Path::new("/tmp/x"));
        assert!(other.starts_with("podrt-") && other.len() == 14, "{other}");
    }

    #[test]
    fn an_update_keeps_the_sets_that_stay_and_deletes_what_went() {
        let before = ruleset(
            "podrt",
            &proxied(&[served(
                "ClusterIP",
                "10.96.0.12",
                true,
                &["10.88.0.2", "10.88.0.3"],
            )]),
        );
        let after = ruleset(
            "podrt",
            &proxied(&[served("ClusterIP", "10.96.0.12", true, &["10.88.0.2"])]),
        );
        let text = serde_json::to_string(&after.updating("podrt", &before)).expect("encode");
        assert!(text.starts_with(r#"{"nftables":[{"add":{"table":{"family":"ip","name":"podrt"}}},{"flush":{"table":"#), "{text}");
        // The gone endpoint's chain and set are deleted, the other's kept.
        assert!(text.contains(r#"{"delete":{"chain":{"family":"ip","table":"podrt","name":"svc_default_web_tcp_80_ep_10-88-0-3_8080"}}}"#), "{text}");
        assert!(text.contains(r#"{"delete":{"set":{"family":"ip","table":"podrt","name":"svc_default_web_tcp_80_aff10800_10-88-0-3_8080""#), "{text}");
        assert!(!text.contains(r#""delete":{"set":{"family":"ip","table":"podrt","name":"svc_default_web_tcp_80_aff10800_10-88-0-2_8080""#), "{text}");
        assert!(!text.contains(r#""delete":{"table""#), "{text}");
    }

    /// Prints two documents, a table and its update, for `nft -j -f` by hand.
    #[test]
    #[ignore]
    fn print_update() {
        let before = ruleset(
            "podrt",
            &proxied(&[served(
                "NodePort",
                "10.96.0.12",
                true,
                &["10.88.0.2", "10.88.0.3"],
            )]),
        );
        let after = ruleset(
            "podrt",
            &proxied(&[served("NodePort", "10.96.0.12", true, &["10.88.0.2"])]),
        );
        println!(
            "{}",
            serde_json::to_string(&before.replacing("podrt")).unwrap()
        );
        println!(
            "{}",
            serde_json::to_string(&after.updating("podrt", &before)).unwrap()
        );
    }

    /// Prints a document for `nft -j --check -f` by hand.
    #[test]
    #[ignore]
    fn print_example() {
        println!(
            "{}",
            json(&[served(
                "NodePort",
                "10.96.0.10",
                true,
                &["10.88.0.3", "10.88.0.2"]
            ),])
        );
    }
}
