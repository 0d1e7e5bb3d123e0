//! `v1` Services on the command line: applied or created with the rest of a
//! manifest (`service/myservice created`), each checked and given its cluster
//! IP (and node ports) as the API server would, before anything of the
//! manifest is made; listed by `get svc` with kubectl's columns, their
//! endpoints by `get endpoints` and `get endpointslices` (which the agent's
//! endpoints controller keeps), shown by `describe svc`, removed by `delete
//! svc` with their endpoints.

use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use podrt_node::objects::{check_service, complete_service, ServiceNetwork};
use podrt_node::store::{Applied, Store};
use podrt_sandbox::manifest::{self, Object};

use super::args::GetArgs;
use super::commands::Mode;
use super::print;
use super::scope::Scope;
use super::stored;

/// Whether a kubectl resource word names Services.
pub(crate) fn is_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "svc" | "service" | "services"
    )
}

/// Whether a kubectl resource word names Endpoints.
pub(crate) fn is_endpoints_word(word: &str) -> bool {
    matches!(word.to_ascii_lowercase().as_str(), "ep" | "endpoints")
}

/// Whether a kubectl resource word names EndpointSlices.
pub(crate) fn is_slices_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "endpointslice"
            | "endpointslices"
            | "endpointslice.discovery.k8s.io"
            | "endpointslices.discovery.k8s.io"
    )
}

fn name(s: &Service) -> &str {
    s.metadata.name.as_deref().unwrap_or_default()
}

fn namespace(s: &Service) -> &str {
    s.metadata.namespace.as_deref().unwrap_or_default()
}

/// The Services of a manifest, taken out of its objects, checked.
#[derive(Debug, Default)]
pub(crate) struct Made {
    list: Vec<Service>,
}

/// Takes the Service documents out of `objects`: each decoded, placed in its
/// namespace, checked, and tried against the stored Services (an address or
/// node port taken or out of range is refused here, before anything is made).
pub(crate) fn take(objects: &mut Vec<Object>, scope: &Scope, net: &ServiceNetwork) -> Result<Made> {
    let mut made = Made::default();
    let mut warnings = Vec::new();
    let mut rest = Vec::new();
    for o in objects.drain(..) {
        if o.kind != "Service" {
            rest.push(o);
            continue;
        }
        let mut svc: Service = manifest::decode(&o, &mut warnings)?;
        scope.place(&mut svc.metadata)?;
        let errors = check_service(&svc);
        if !errors.is_empty() {
            bail!(
                "The Service {:?} is invalid: {}",
                name(&svc),
                errors.join("; ")
            );
        }
        made.list.push(svc);
    }
    *objects = rest;
    for w in warnings {
        eprintln!("Warning: {w}");
    }
    if scope.has_store() && !made.list.is_empty() {
        made.completed(&scope.store()?, Mode::Apply, net)?;
    }
    Ok(made)
}

/// A stored Service's key.
fn key(s: &Service) -> (String, String) {
    (namespace(s).to_string(), name(s).to_string())
}

impl Made {
    /// Whether the manifest had no Service.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The namespaces the Services go into.
    pub(crate) fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(namespace)
    }

    /// The Services completed against `store`'s (every namespace's) and each
    /// other; refused as a whole when one is. Under `create`, one that exists is left out (with kubectl's
    /// AlreadyExists, counted in the returned list of names).
    fn completed(
        &self,
        store: &Store,
        mode: Mode,
        net: &ServiceNetwork,
    ) -> Result<(Vec<Service>, Vec<String>)> {
        let mut stored = Vec::new();
        for ns in store.namespaces_in_use()? {
            stored.extend(store.in_namespace(&ns).list::<Service>()?);
        }
        let mut out: Vec<Service> = Vec::new();
        let mut existing = Vec::new();
        for svc in &self.list {
            let old = stored.iter().find(|s| key(s) == key(svc)).cloned();
            if old.is_some() && mode == Mode::Create {
                existing.push(name(svc).to_string());
                continue;
            }
            let others: Vec<Service> = stored
                .iter()
                .filter(|s| key(s) != key(svc))
                .chain(out.iter().filter(|s| key(s) != key(svc)))
                .cloned()
                .collect();
            let mut svc = svc.clone();
            let errors = complete_service(&mut svc, old.as_ref(), &others, net);
            if !errors.is_empty() {
                bail!(
                    "The Service {:?} is invalid: {}",
                    name(&svc),
                    errors.join("; ")
                );
            }
            out.push(svc);
        }
        Ok((out, existing))
    }

    /// Stores the Services (holding the store's lock, completed again against
    /// what is stored now), printing kubectl's line for each; the exit status
    /// so far (1 when `create` met one that exists).
    pub(crate) fn store(self, scope: &Scope, mode: Mode, net: &ServiceNetwork) -> Result<i32> {
        self.store_saying(scope, mode, net, None)
    }

    /// Stores the one Service of an edit: `service/NAME edited`.
    pub(crate) fn store_edited(self, scope: &Scope, net: &ServiceNetwork) -> Result<()> {
        self.store_saying(scope, Mode::Apply, net, Some("edited"))?;
        Ok(())
    }

    fn store_saying(
        self,
        scope: &Scope,
        mode: Mode,
        net: &ServiceNetwork,
        said: Option<&str>,
    ) -> Result<i32> {
        if self.list.is_empty() {
            return Ok(0);
        }
        let store = scope.store()?;
        let _lock = store.lock()?;
        let (services, existing) = self.completed(&store, mode, net)?;
        let mut code = 0;
        for name in existing {
            eprintln!("Error from server (AlreadyExists): services {name:?} already exists");
            code = 1;
        }
        for svc in services {
            let in_ns = store.in_namespace(namespace(&svc));
            let name = name(&svc).to_string();
            let (applied, _) = in_ns.apply(svc)?;
            let word = said.unwrap_or(match applied {
                Applied::Created => "created",
                Applied::Configured => "configured",
                Applied::Unchanged => "unchanged",
            });
            println!("service/{name} {word}");
        }
        Ok(code)
    }

    /// The one Service of an edited file, which must be `name` in `ns`.
    pub(crate) fn the_edited(&self, ns: &str, wanted: &str) -> Result<()> {
        match self.list.as_slice() {
            [svc] if name(svc) == wanted && namespace(svc) == ns => Ok(()),
            [svc] => bail!(
                "service/{wanted}: the name of an object cannot be changed by edit (got service/{})",
                name(svc)
            ),
            _ => bail!("the edited file must hold the one service it was"),
        }
    }
}

/// `get svc [NAME…]`.
pub(crate) fn get(scope: &Scope, a: &GetArgs) -> Result<i32> {
    stored::get(
        scope,
        a,
        &stored::Listed::<Service> {
            plural: "services",
            prefix: "service",
            table: print::services,
        },
    )
}

/// `get endpoints [NAME…]`.
pub(crate) fn get_endpoints(scope: &Scope, a: &GetArgs) -> Result<i32> {
    stored::get(
        scope,
        a,
        &stored::Listed::<Endpoints> {
            plural: "endpoints",
            prefix: "endpoints",
            table: print::endpoints,
        },
    )
}

/// `get endpointslices [NAME…]`.
pub(crate) fn get_slices(scope: &Scope, a: &GetArgs) -> Result<i32> {
    stored::get(
        scope,
        a,
        &stored::Listed::<EndpointSlice> {
            plural: "endpointslices.discovery.k8s.io",
            prefix: "endpointslice.discovery.k8s.io",
            table: print::endpoint_slices,
        },
    )
}

/// The names of the Services whose labels match (`delete svc -l`).
pub(crate) fn names_matching(
    scope: &Scope,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Result<Vec<(String, String)>> {
    Ok(stored::all::<Service>(scope)?
        .into_iter()
        .filter(|s| super::commands::labelled(Some(selector), s.metadata.labels.as_ref()))
        .map(|s| key(&s))
        .collect())
}

/// `delete svc NAME` in `ns`: the Service with its Endpoints and slices;
/// kubectl's line, or its NotFound.
pub(crate) fn delete(scope: &Scope, ns: &str, wanted: &str) -> Result<()> {
    let gone = scope.has_store() && {
        let store: Store = scope.in_namespace(ns).store()?;
        let _lock = store.lock()?;
        let gone = store.remove::<Service>(wanted)?;
        if gone {
            remove_endpoints(&store, wanted)?;
        }
        gone
    };
    if !gone {
        bail!("services {wanted:?} not found");
    }
    println!("service {wanted:?} deleted");
    Ok(())
}

/// Removes the Endpoints and EndpointSlices of the Service `name`.
fn remove_endpoints(store: &Store, name: &str) -> Result<()> {
    store.remove::<Endpoints>(name)?;
    for slice in store.list::<EndpointSlice>()? {
        let of = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
            .map(String::as_str);
        if of == Some(name) {
            store.remove::<EndpointSlice>(slice.metadata.name.as_deref().unwrap_or_default())?;
        }
    }
    Ok(())
}

/// The YAML `edit svc NAME` opens.
pub(crate) fn yaml_of(scope: &Scope, wanted: &str) -> Result<String> {
    let found: Option<Service> = if scope.has_store() {
        scope.store()?.get(wanted)?
    } else {
        None
    };
    match found {
        Some(svc) => print::objects_yaml(&[svc], true),
        None => bail!("Error from server (NotFound): services {wanted:?} not found"),
    }
}

/// `describe svc [NAME]`: kubectl's page for each.
pub(crate) fn describe(scope: &Scope, wanted: Option<&str>) -> Result<Vec<String>> {
    let every = stored::all::<Service>(scope)?;
    let chosen: Vec<&Service> = match wanted {
        Some(w) => match every.iter().find(|s| name(s) == w) {
            Some(s) => vec![s],
            None => bail!("Error from server (NotFound): services {w:?} not found"),
        },
        None => every.iter().collect(),
    };
    let mut pages = Vec::new();
    for svc in chosen {
        let endpoints: Option<Endpoints> =
            scope.in_namespace(namespace(svc)).store()?.get(name(svc))?;
        pages.push(print::describe_service(svc, endpoints.as_ref()));
    }
    Ok(pages)
}
