//! `imagePullPolicy` as the API server defaults it: a container's own value, else
//! `Always` for an image without a tag or tagged `:latest` (and no digest),
//! `IfNotPresent` for any other. podrt's config may set the default instead
//! (`defaultImagePullPolicy`), for hosts that run `:latest` images offline.

use k8s_openapi::api::core::v1::PodSpec;

/// When an image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PullPolicy {
    /// Every time a container is made from it.
    Always,
    /// When the store does not have it.
    IfNotPresent,
    /// Never: a missing image is an error.
    Never,
}

impl PullPolicy {
    /// The policy a manifest or config names; `None` for another word.
    pub fn parse(word: &str) -> Option<PullPolicy> {
        match word {
            "Always" => Some(PullPolicy::Always),
            "IfNotPresent" => Some(PullPolicy::IfNotPresent),
            "Never" => Some(PullPolicy::Never),
            _ => None,
        }
    }
}

/// Kubernetes' default for `image`: `Always` without a tag or with `:latest`
/// (unless it has a digest), else `IfNotPresent`.
pub fn default_for(image: &str) -> PullPolicy {
    if image.contains('@') {
        return PullPolicy::IfNotPresent;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) if tag != "latest" => PullPolicy::IfNotPresent,
        _ => PullPolicy::Always,
    }
}

/// One container's image and the policy it is pulled by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The container's name.
    pub container: String,
    /// The image as the manifest names it.
    pub image: String,
    /// Its policy: its own, else `default` (the config's), else [`default_for`].
    pub policy: PullPolicy,
}

/// Every container's image in `spec`, init containers first.
pub fn image_uses(spec: &PodSpec, default: Option<PullPolicy>) -> Vec<ImageUse> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .filter_map(|c| {
            let image = c.image.clone().filter(|i| !i.is_empty())?;
            let policy = c
                .image_pull_policy
                .as_deref()
                .and_then(PullPolicy::parse)
                .or(default)
                .unwrap_or_else(|| default_for(&image));
            Some(ImageUse {
                container: c.name.clone(),
                image,
                policy,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Container;

    #[test]
    fn latest_and_untagged_images_default_to_always() {
        assert_eq!(default_for("busybox"), PullPolicy::Always);
        assert_eq!(default_for("busybox:latest"), PullPolicy::Always);
        assert_eq!(default_for("127.0.0.1:5000/app"), PullPolicy::Always);
        assert_eq!(default_for("busybox:1.36"), PullPolicy::IfNotPresent);
        assert_eq!(
            default_for("127.0.0.1:5000/app:v1"),
            PullPolicy::IfNotPresent
        );
        assert_eq!(default_for("busybox@sha256:00"), PullPolicy::IfNotPresent);
    }

    #[test]
    fn a_containers_own_policy_wins_then_the_config_then_the_rule() {
        let c = |name: &str, image: &str, policy: Option<&str>| Container {
            name: name.into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(Into::into),
            ..Container::default()
        };
        let spec = PodSpec {
            init_containers: Some(vec![c("i", "busybox", Some("Never"))]),
            containers: vec![c("a", "busybox", None), c("b", "busybox:1", None)],
            ..PodSpec::default()
        };
        let policies =
            |d| -> Vec<PullPolicy> { image_uses(&spec, d).into_iter().map(|u| u.policy).collect() };
        use PullPolicy::*;
        assert_eq!(policies(None), [Never, Always, IfNotPresent]);
        assert_eq!(
            policies(Some(IfNotPresent)),
            [Never, IfNotPresent, IfNotPresent]
        );
    }
}
