//! `get controllerrevisions`: the templates the agent keeps for each StatefulSet
//! and DaemonSet (what `rollout history` numbers and `rollout undo` returns to),
//! with kubectl's `NAME CONTROLLER REVISION AGE`. They are the controllers' to
//! make and remove; a user reads them.

use anyhow::Result;
use k8s_openapi::api::apps::v1::ControllerRevision;

use super::args::GetArgs;
use super::print;
use super::scope::Scope;
use super::stored;

/// Whether a kubectl resource word names ControllerRevisions.
pub(crate) fn is_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "controllerrevision"
            | "controllerrevisions"
            | "controllerrevision.apps"
            | "controllerrevisions.apps"
    )
}

/// `get controllerrevisions [NAME…]`.
pub(crate) fn get(scope: &Scope, a: &GetArgs) -> Result<i32> {
    stored::get(
        scope,
        a,
        &stored::Listed::<ControllerRevision> {
            plural: "controllerrevisions.apps",
            prefix: "controllerrevision.apps",
            table: print::controller_revisions,
        },
    )
}
