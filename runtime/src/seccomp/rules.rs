//! A profile's rules grouped by what they do: the ALLOW rules, which go into the base, and one
//! rule set per other action, each of which becomes a layer (see the `seccomp` module comment).
//! Rules for the same syscall and action are ORed; rules equal to the default are dropped.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use oci_spec::runtime::LinuxSeccomp;
use seccompiler::{SeccompAction, SeccompRule, TargetArch};
use tracing::debug;

use super::names::resolve_names;
use super::translate::{outranks, rule_condition, translate_action, Site};
use super::SeccompError;

/// The spec's rules, grouped: the ALLOW rules (for the base) and one rule set per other action
/// (the layers), in order of first appearance. Rules equal to the default are dropped.
pub(super) fn collect_rules(
    spec: &LinuxSeccomp,
    default: &SeccompAction,
    arch: TargetArch,
) -> Result<(RuleSet, Vec<(SeccompAction, RuleSet)>), SeccompError> {
    let mut allowed = RuleSet::default();
    let mut layers: Vec<(SeccompAction, RuleSet)> = Vec::new();
    for (i, rule) in spec.syscalls().iter().flatten().enumerate() {
        let action = translate_action(rule.action(), rule.errno_ret(), Site::Rule(i))?;
        if action == *default {
            debug!("linux.seccomp.syscalls[{i}]: action equals defaultAction, rule dropped");
            continue;
        }
        let condition = rule_condition(rule, i)?;
        let numbers = resolve_names(rule.names(), i, arch, outranks(&action, default))?;
        if numbers.is_empty() {
            continue;
        }
        let rules = if action == SeccompAction::Allow {
            &mut allowed
        } else {
            layer_for(&mut layers, action)
        };
        rules.add_all(&numbers, condition.as_ref());
    }
    Ok((allowed, layers))
}

/// How one filter matches a syscall: always, or when any of several argument rules holds.
enum Chain {
    Always,
    AnyOf(Vec<SeccompRule>),
}

/// The rules of one filter, by syscall number.
#[derive(Default)]
pub(super) struct RuleSet(BTreeMap<i64, Chain>);

impl RuleSet {
    /// Adds `rule` (or an unconditional match) for each number; spec rules for the same syscall
    /// are ORed, and an unconditional one absorbs the others.
    pub(super) fn add_all(&mut self, numbers: &[i64], rule: Option<&SeccompRule>) {
        for &nr in numbers {
            match (self.0.entry(nr), rule) {
                (Entry::Vacant(slot), None) => {
                    slot.insert(Chain::Always);
                }
                (Entry::Vacant(slot), Some(rule)) => {
                    slot.insert(Chain::AnyOf(vec![rule.clone()]));
                }
                (Entry::Occupied(mut slot), None) => {
                    slot.insert(Chain::Always);
                }
                (Entry::Occupied(mut slot), Some(rule)) => {
                    if let Chain::AnyOf(rules) = slot.get_mut() {
                        if !rules.contains(rule) {
                            rules.push(rule.clone());
                        }
                    }
                }
            }
        }
    }

    /// seccompiler's form: an empty rule list means "match unconditionally".
    pub(super) fn into_map(self) -> BTreeMap<i64, Vec<SeccompRule>> {
        self.0
            .into_iter()
            .map(|(nr, chain)| match chain {
                Chain::Always => (nr, Vec::new()),
                Chain::AnyOf(rules) => (nr, rules),
            })
            .collect()
    }
}

/// The layer for `action`, appended if new.
pub(super) fn layer_for(
    layers: &mut Vec<(SeccompAction, RuleSet)>,
    action: SeccompAction,
) -> &mut RuleSet {
    let index = match layers.iter().position(|(a, _)| *a == action) {
        Some(index) => index,
        None => {
            layers.push((action, RuleSet::default()));
            layers.len() - 1
        }
    };
    &mut layers[index].1
}
