//! Traffic to Services: the node agent's kube-proxy. After each controller
//! pass it turns the Services and their ready endpoints into one nftables
//! table that podrt owns (`podrt`, or `podrt-<hash>` for another root), and
//! writes it when it changed, in one transaction: whole the first time, then
//! rules rewritten in place so ClientIP affinity survives; with no Service
//! left it removes the table. Nothing else of the host's
//! rules is read or touched.
//!
//! Why nftables through libnftables' JSON interface: one table of our own
//! that is replaced or deleted atomically, without editing chains that other
//! software owns (iptables' `nat` table is shared), and without running the
//! `nft` program; the rules are typed values (`nftables` crate) until the
//! library parses them. The agent keeps nothing the kernel does not: a new
//! agent writes the table again from the stored Services on its first pass.

mod nft;
mod rules;

use std::path::Path;

pub(crate) use nft::NftError;

use crate::controllers::endpoints::Served;

/// The agent's writer of Services' rules.
#[derive(Debug)]
pub(crate) struct Proxy {
    table: String,
    /// libnftables, once loaded.
    nft: Option<nft::Nft>,
    /// It could not be loaded: reported once, not tried again.
    load_failed: bool,
    /// The rules last committed; `None` before the first (or after the
    /// table was removed).
    written: Option<rules::Ruleset>,
    /// Whether the last commit removed the table (nothing to do until a
    /// Service needs rules again).
    removed: bool,
}

impl Proxy {
    /// The proxy of the podrt root `root`.
    pub(crate) fn new(root: &Path) -> Proxy {
        Proxy {
            table: rules::table_name(root),
            nft: None,
            load_failed: false,
            written: None,
            removed: false,
        }
    }

    /// Writes the rules for `served` if they differ from what was written:
    /// the whole table the first time (a table an agent before this one left
    /// is replaced), then in place, so the affinity sets that stay keep their
    /// clients; with no Service left, the table is deleted.
    pub(crate) fn sync(&mut self, served: &[Served]) {
        if self.load_failed {
            return;
        }
        let proxied = rules::proxied(served);
        if proxied.is_empty() {
            if self.removed {
                return;
            }
            if self.write(&rules::removal(&self.table)) {
                self.written = None;
                self.removed = true;
            }
            return;
        }
        let wanted = rules::ruleset(&self.table, &proxied);
        if self.written.as_ref() == Some(&wanted) {
            return;
        }
        let document = match &self.written {
            Some(before) => wanted.updating(&self.table, before),
            None => wanted.replacing(&self.table),
        };
        if self.write(&document) {
            tracing::info!(table = %self.table, services = proxied.len(), "Services' rules written");
            self.written = Some(wanted);
            self.removed = false;
        }
    }

    /// Commits `document`; whether it was.
    fn write(&mut self, document: &nftables::schema::Nftables<'static>) -> bool {
        let json = match serde_json::to_string(document) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "encoding the Services' rules");
                return false;
            }
        };
        match self.commit(&json) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(table = %self.table, error = %e, "writing the Services' rules");
                // Written whole next time: what the table holds is not known.
                self.written = None;
                self.removed = false;
                false
            }
        }
    }

    fn commit(&mut self, json: &str) -> Result<(), NftError> {
        if self.nft.is_none() {
            match nft::Nft::open() {
                Ok(nft) => self.nft = Some(nft),
                Err(e) => {
                    if !self.load_failed {
                        eprintln!("podrt serve: Services get no traffic rules: {e}");
                    }
                    self.load_failed = true;
                    return Err(e);
                }
            }
        }
        match self.nft.as_mut() {
            Some(nft) => nft.run(json).map(|_| ()),
            None => Ok(()),
        }
    }
}
