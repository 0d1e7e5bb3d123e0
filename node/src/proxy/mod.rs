//! Traffic to Services: the node agent's kube-proxy. After each controller
//! pass it turns the Services and their ready endpoints into one nftables
//! table that podrt owns (`podrt`, or `podrt-<hash>` for another root), and
//! writes it when it changed, replacing the whole table in one transaction;
//! with no Service left it removes the table. Nothing else of the host's
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
    /// The document last committed; `None` before the first.
    written: Option<String>,
}

impl Proxy {
    /// The proxy of the podrt root `root`.
    pub(crate) fn new(root: &Path) -> Proxy {
        Proxy {
            table: rules::table_name(root),
            nft: None,
            load_failed: false,
            written: None,
        }
    }

    /// Writes the rules for `served` if they differ from what was written.
    pub(crate) fn sync(&mut self, served: &[Served]) {
        if self.load_failed {
            return;
        }
        let proxied = rules::proxied(served);
        let document = if proxied.is_empty() {
            rules::removal(&self.table)
        } else {
            rules::ruleset(&self.table, &proxied)
        };
        let json = match serde_json::to_string(&document) {
            Ok(json) => json,
            Err(e) => {
                tracing::error!(error = %e, "encoding the Services' rules");
                return;
            }
        };
        if self.written.as_deref() == Some(&json) {
            return;
        }
        match self.commit(&json) {
            Ok(()) => {
                tracing::info!(table = %self.table, services = proxied.len(), "Services' rules written");
                self.written = Some(json);
            }
            Err(e) => {
                tracing::error!(table = %self.table, error = %e, "writing the Services' rules")
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
