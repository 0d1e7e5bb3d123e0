//! The CRI's RuntimeService: what it answers about the runtime (`Version`,
//! `Status`, `RuntimeConfig`) and about the pods and containers podrt runs
//! ([`super::sandboxes`], [`super::containers`]).
//!
//! `ExecSync` runs a command in a container ([`super::exec_sync`]); the stats
//! calls read the cgroups and the pod's network ([`super::stats`]);
//! `GetContainerEvents` streams what changes ([`super::events`]);
//! `UpdateContainerResources` writes new limits to a container's cgroup
//! ([`super::resources`]). Pods are made by the [`super::maker`] from
//! [`super::pod_config`], and changed by [`super::pods`]. Not served yet, and
//! answering `Unimplemented` with a message that says so:
//! `Exec`, `Attach` and `PortForward`. `CheckpointContainer` is not supported
//! at all.

use std::sync::Arc;

use k8s_cri::v1;
use k8s_cri::v1::runtime_service_server::RuntimeService;
use podrt_sandbox::pod::Options;
use tonic::{Request, Response, Status};

use super::server::blocking;
use super::{
    containers, events, exec_sync, maker, pod_config, pods, resources, sandboxes, stats,
    API_VERSION, RUNTIME_NAME,
};

/// The version of the CRI's own protocol kubelet asks about (`Version`'s
/// `version`), which every runtime answers with.
const KUBELET_API_VERSION: &str = "0.1.0";

/// The answer of a call this release does not serve yet.
fn not_served(rpc: &str) -> Status {
    Status::unimplemented(format!("{rpc}: not served by this podrt release yet"))
}

/// The RuntimeService of one podrt installation.
pub(crate) struct Runtime {
    opts: Arc<Options>,
    /// Makes the sandboxes (a process of one thread).
    maker: Arc<maker::Maker>,
    /// The last CPU times read, for `usage_nano_cores`.
    samples: Arc<stats::Samples>,
}

impl Runtime {
    /// For pods under `opts`.
    pub(crate) fn new(opts: Arc<Options>, maker: maker::Maker) -> Runtime {
        Runtime {
            opts,
            maker: Arc::new(maker),
            samples: Arc::default(),
        }
    }

    /// Every pod, read off the async workers.
    async fn pods(&self) -> Result<Vec<sandboxes::Found>, Status> {
        let root = self.opts.root.clone();
        blocking(move || sandboxes::all(&root)).await
    }

    /// The pods holding a container whose id starts with `id`, read off the
    /// async workers.
    async fn holding(&self, id: &str) -> Result<Vec<sandboxes::Found>, Status> {
        let root = self.opts.root.clone();
        let id = id.to_string();
        blocking(move || sandboxes::holding(&root, &id)).await
    }
}

/// `Status`'s conditions: the runtime is ready once it answers; the network
/// as [`podrt_sandbox::network::readiness`] finds it.
fn conditions(opts: &Options) -> Vec<v1::RuntimeCondition> {
    let network = podrt_sandbox::network::readiness(&opts.network, &opts.root);
    vec![
        v1::RuntimeCondition {
            r#type: "RuntimeReady".into(),
            status: true,
            ..v1::RuntimeCondition::default()
        },
        v1::RuntimeCondition {
            r#type: "NetworkReady".into(),
            status: network.is_ok(),
            reason: if network.is_ok() {
                String::new()
            } else {
                "NetworkPluginNotReady".into()
            },
            message: network.err().unwrap_or_default(),
        },
    ]
}

#[tonic::async_trait]
impl RuntimeService for Runtime {
    async fn version(
        &self,
        _request: Request<v1::VersionRequest>,
    ) -> Result<Response<v1::VersionResponse>, Status> {
        Ok(Response::new(v1::VersionResponse {
            version: KUBELET_API_VERSION.into(),
            runtime_name: RUNTIME_NAME.into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
            runtime_api_version: API_VERSION.into(),
        }))
    }

    async fn status(
        &self,
        request: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        let verbose = request.into_inner().verbose;
        let opts = self.opts.clone();
        let conditions = blocking(move || Ok(conditions(&opts))).await?;
        let mut info = std::collections::HashMap::new();
        if verbose {
            let config = serde_json::json!({
                "root": self.opts.root,
                "imageRoot": self.opts.image_root,
                "cgroupParent": self.opts.cgroup_parent,
                "cniConfDir": self.opts.network.conf_dir,
                "cniBinDirs": self.opts.network.bin_dirs,
            });
            info.insert("config".to_string(), config.to_string());
        }
        Ok(Response::new(v1::StatusResponse {
            status: Some(v1::RuntimeStatus { conditions }),
            info,
            // The default handler only; features are claimed as the CRI's pod
            // creation gains them.
            runtime_handlers: vec![v1::RuntimeHandler {
                name: String::new(),
                features: Some(v1::RuntimeHandlerFeatures::default()),
            }],
            features: Some(v1::RuntimeFeatures::default()),
        }))
    }

    async fn runtime_config(
        &self,
        _request: Request<v1::RuntimeConfigRequest>,
    ) -> Result<Response<v1::RuntimeConfigResponse>, Status> {
        Ok(Response::new(v1::RuntimeConfigResponse {
            linux: Some(v1::LinuxRuntimeConfiguration {
                cgroup_driver: v1::CgroupDriver::Cgroupfs as i32,
            }),
        }))
    }

    async fn update_runtime_config(
        &self,
        request: Request<v1::UpdateRuntimeConfigRequest>,
    ) -> Result<Response<v1::UpdateRuntimeConfigResponse>, Status> {
        // The pod CIDR is the network config's to give (containerd, too,
        // only uses it to write a config from a template, which podrt has not).
        let cidr = request
            .into_inner()
            .runtime_config
            .and_then(|c| c.network_config)
            .map(|n| n.pod_cidr)
            .unwrap_or_default();
        if !cidr.is_empty() {
            tracing::info!(pod_cidr = %cidr, "kubelet's pod CIDR noted; pods get addresses from the network config");
        }
        Ok(Response::new(v1::UpdateRuntimeConfigResponse {}))
    }

    async fn list_pod_sandbox(
        &self,
        request: Request<v1::ListPodSandboxRequest>,
    ) -> Result<Response<v1::ListPodSandboxResponse>, Status> {
        let filter = request.into_inner().filter;
        let items = self
            .pods()
            .await?
            .iter()
            .map(sandboxes::pod_sandbox)
            .filter(|s| sandboxes::matches(filter.as_ref(), s))
            .collect();
        Ok(Response::new(v1::ListPodSandboxResponse { items }))
    }

    async fn pod_sandbox_status(
        &self,
        request: Request<v1::PodSandboxStatusRequest>,
    ) -> Result<Response<v1::PodSandboxStatusResponse>, Status> {
        let request = request.into_inner();
        let root = self.opts.root.clone();
        let found = blocking(move || sandboxes::find(&root, &request.pod_sandbox_id)).await?;
        Ok(Response::new(v1::PodSandboxStatusResponse {
            status: Some(sandboxes::status(&found)),
            info: if request.verbose {
                sandboxes::info(&found)
            } else {
                Default::default()
            },
            containers_statuses: containers::of(&found)
                .iter()
                .map(containers::status)
                .collect(),
            timestamp: super::nanos::now(),
        }))
    }

    async fn list_containers(
        &self,
        request: Request<v1::ListContainersRequest>,
    ) -> Result<Response<v1::ListContainersResponse>, Status> {
        let filter = request.into_inner().filter;
        let pods = self.pods().await?;
        let containers = pods
            .iter()
            .flat_map(containers::of)
            .map(|m| containers::container(&m))
            .filter(|c| containers::matches(filter.as_ref(), c))
            .collect();
        Ok(Response::new(v1::ListContainersResponse { containers }))
    }

    async fn container_status(
        &self,
        request: Request<v1::ContainerStatusRequest>,
    ) -> Result<Response<v1::ContainerStatusResponse>, Status> {
        let request = request.into_inner();
        let pods = self.holding(&request.container_id).await?;
        let made = containers::find(&pods, &request.container_id)?;
        Ok(Response::new(v1::ContainerStatusResponse {
            status: Some(containers::status(&made)),
            info: if request.verbose {
                containers::info(&made)
            } else {
                Default::default()
            },
        }))
    }

    async fn checkpoint_container(
        &self,
        _request: Request<v1::CheckpointContainerRequest>,
    ) -> Result<Response<v1::CheckpointContainerResponse>, Status> {
        Err(Status::unimplemented(
            "CheckpointContainer: podrt does not checkpoint containers (it has no CRIU support)",
        ))
    }

    type GetContainerEventsStream =
        tokio_stream::wrappers::ReceiverStream<Result<v1::ContainerEventResponse, Status>>;

    async fn get_container_events(
        &self,
        _request: Request<v1::GetEventsRequest>,
    ) -> Result<Response<Self::GetContainerEventsStream>, Status> {
        Ok(Response::new(
            events::subscribe(self.opts.root.clone()).await?,
        ))
    }

    async fn list_metric_descriptors(
        &self,
        _request: Request<v1::ListMetricDescriptorsRequest>,
    ) -> Result<Response<v1::ListMetricDescriptorsResponse>, Status> {
        // No metrics beyond the stats calls' (the CRI allows an empty list).
        Ok(Response::new(v1::ListMetricDescriptorsResponse {
            descriptors: Vec::new(),
        }))
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _request: Request<v1::ListPodSandboxMetricsRequest>,
    ) -> Result<Response<v1::ListPodSandboxMetricsResponse>, Status> {
        Ok(Response::new(v1::ListPodSandboxMetricsResponse {
            pod_metrics: Vec::new(),
        }))
    }

    async fn run_pod_sandbox(
        &self,
        request: Request<v1::RunPodSandboxRequest>,
    ) -> Result<Response<v1::RunPodSandboxResponse>, Status> {
        let request = request.into_inner();
        let config = request
            .config
            .ok_or_else(|| Status::invalid_argument("config: missing"))?;
        let (pod, kubelet) = pod_config::translate(&config, &request.runtime_handler)?;
        let maker = self.maker.clone();
        let pod_sandbox_id = blocking(move || maker.make(pod, kubelet)).await?;
        Ok(Response::new(v1::RunPodSandboxResponse { pod_sandbox_id }))
    }

    async fn stop_pod_sandbox(
        &self,
        request: Request<v1::StopPodSandboxRequest>,
    ) -> Result<Response<v1::StopPodSandboxResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        let root = self.opts.root.clone();
        blocking(move || pods::stop_sandbox(&root, &id)).await?;
        Ok(Response::new(v1::StopPodSandboxResponse {}))
    }

    async fn remove_pod_sandbox(
        &self,
        request: Request<v1::RemovePodSandboxRequest>,
    ) -> Result<Response<v1::RemovePodSandboxResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        let root = self.opts.root.clone();
        blocking(move || pods::remove_sandbox(&root, &id)).await?;
        Ok(Response::new(v1::RemovePodSandboxResponse {}))
    }

    async fn create_container(
        &self,
        request: Request<v1::CreateContainerRequest>,
    ) -> Result<Response<v1::CreateContainerResponse>, Status> {
        let request = request.into_inner();
        let config = request
            .config
            .ok_or_else(|| Status::invalid_argument("config: missing"))?;
        let root = self.opts.root.clone();
        let sandbox = request.pod_sandbox_id;
        let container_id =
            blocking(move || pods::create_container(&root, &sandbox, &config)).await?;
        Ok(Response::new(v1::CreateContainerResponse { container_id }))
    }

    async fn start_container(
        &self,
        request: Request<v1::StartContainerRequest>,
    ) -> Result<Response<v1::StartContainerResponse>, Status> {
        let id = request.into_inner().container_id;
        let root = self.opts.root.clone();
        blocking(move || pods::start_container(&root, &id)).await?;
        Ok(Response::new(v1::StartContainerResponse {}))
    }

    async fn stop_container(
        &self,
        request: Request<v1::StopContainerRequest>,
    ) -> Result<Response<v1::StopContainerResponse>, Status> {
        let request = request.into_inner();
        let root = self.opts.root.clone();
        blocking(move || pods::stop_container(&root, &request.container_id, request.timeout))
            .await?;
        Ok(Response::new(v1::StopContainerResponse {}))
    }

    async fn remove_container(
        &self,
        request: Request<v1::RemoveContainerRequest>,
    ) -> Result<Response<v1::RemoveContainerResponse>, Status> {
        let id = request.into_inner().container_id;
        let root = self.opts.root.clone();
        blocking(move || pods::remove_container(&root, &id)).await?;
        Ok(Response::new(v1::RemoveContainerResponse {}))
    }

    async fn update_container_resources(
        &self,
        request: Request<v1::UpdateContainerResourcesRequest>,
    ) -> Result<Response<v1::UpdateContainerResourcesResponse>, Status> {
        let request = request.into_inner();
        let wanted = match &request.linux {
            Some(linux) => resources::oci(linux)?,
            None => return Err(Status::invalid_argument("linux: empty: give the resources")),
        };
        let root = self.opts.root.clone();
        blocking(move || {
            let pods = sandboxes::holding(&root, &request.container_id)?;
            let made = containers::find(&pods, &request.container_id)?;
            let Some(container) = made.pod.sandbox.runtime_container(&made.status.name) else {
                return Err(Status::not_found(format!("container {} is gone", made.id)));
            };
            container.update(&wanted).map_err(|e| {
                Status::failed_precondition(format!("updating container {}: {e}", made.id))
            })
        })
        .await?;
        Ok(Response::new(v1::UpdateContainerResourcesResponse {}))
    }

    async fn reopen_container_log(
        &self,
        request: Request<v1::ReopenContainerLogRequest>,
    ) -> Result<Response<v1::ReopenContainerLogResponse>, Status> {
        let id = request.into_inner().container_id;
        let root = self.opts.root.clone();
        blocking(move || pods::reopen_log(&root, &id)).await?;
        Ok(Response::new(v1::ReopenContainerLogResponse {}))
    }

    async fn exec_sync(
        &self,
        request: Request<v1::ExecSyncRequest>,
    ) -> Result<Response<v1::ExecSyncResponse>, Status> {
        let request = request.into_inner();
        let pods = self.holding(&request.container_id).await?;
        let made = containers::find(&pods, &request.container_id)?;
        if !containers::running(&made) {
            return Err(Status::failed_precondition(format!(
                "container {} is not running",
                made.id
            )));
        }
        let exe = match &self.opts.helper_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()
                .map_err(|e| Status::internal(format!("finding the podrt binary: {e}")))?,
        };
        let target = exec_sync::Target {
            exe,
            root: self.opts.root.clone(),
            namespace: made.pod.sandbox.record.namespace.clone(),
            pod: made.pod.sandbox.record.name.clone(),
            container: made.status.name.clone(),
        };
        let timeout = u64::try_from(request.timeout)
            .ok()
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs);
        let response = exec_sync::run(target, request.cmd, timeout).await?;
        Ok(Response::new(response))
    }

    async fn exec(
        &self,
        _request: Request<v1::ExecRequest>,
    ) -> Result<Response<v1::ExecResponse>, Status> {
        Err(not_served("Exec"))
    }

    async fn attach(
        &self,
        _request: Request<v1::AttachRequest>,
    ) -> Result<Response<v1::AttachResponse>, Status> {
        Err(not_served("Attach"))
    }

    async fn port_forward(
        &self,
        _request: Request<v1::PortForwardRequest>,
    ) -> Result<Response<v1::PortForwardResponse>, Status> {
        Err(not_served("PortForward"))
    }

    async fn container_stats(
        &self,
        request: Request<v1::ContainerStatsRequest>,
    ) -> Result<Response<v1::ContainerStatsResponse>, Status> {
        let id = request.into_inner().container_id;
        let samples = self.samples.clone();
        let root = self.opts.root.clone();
        let stats = blocking(move || {
            let pods = sandboxes::holding(&root, &id)?;
            let made = containers::find(&pods, &id)?;
            Ok(stats::container(
                &made,
                containers::container(&made),
                &samples,
            ))
        })
        .await?;
        Ok(Response::new(v1::ContainerStatsResponse {
            stats: Some(stats),
        }))
    }

    async fn list_container_stats(
        &self,
        request: Request<v1::ListContainerStatsRequest>,
    ) -> Result<Response<v1::ListContainerStatsResponse>, Status> {
        let filter = request.into_inner().filter;
        let samples = self.samples.clone();
        let root = self.opts.root.clone();
        let stats = blocking(move || {
            let pods = sandboxes::all(&root)?;
            let stats = pods
                .iter()
                .flat_map(containers::of)
                .filter(|m| containers::running(m))
                .map(|m| (containers::container(&m), m))
                .filter(|(listed, _)| stats::container_matches(filter.as_ref(), listed))
                .map(|(listed, m)| stats::container(&m, listed, &samples))
                .collect();
            Ok(stats)
        })
        .await?;
        Ok(Response::new(v1::ListContainerStatsResponse { stats }))
    }

    async fn pod_sandbox_stats(
        &self,
        request: Request<v1::PodSandboxStatsRequest>,
    ) -> Result<Response<v1::PodSandboxStatsResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        let samples = self.samples.clone();
        let root = self.opts.root.clone();
        let stats = blocking(move || {
            let found = sandboxes::find(&root, &id)?;
            Ok(stats::pod(&found, sandboxes::pod_sandbox(&found), &samples))
        })
        .await?;
        Ok(Response::new(v1::PodSandboxStatsResponse {
            stats: Some(stats),
        }))
    }

    async fn list_pod_sandbox_stats(
        &self,
        request: Request<v1::ListPodSandboxStatsRequest>,
    ) -> Result<Response<v1::ListPodSandboxStatsResponse>, Status> {
        let filter = request.into_inner().filter;
        let samples = self.samples.clone();
        let root = self.opts.root.clone();
        let stats = blocking(move || {
            let pods = sandboxes::all(&root)?;
            let stats: Vec<v1::PodSandboxStats> = pods
                .iter()
                .filter(|f| sandboxes::state(f) == v1::PodSandboxState::SandboxReady)
                .map(|f| (f, sandboxes::pod_sandbox(f)))
                .filter(|(_, listed)| stats::pod_matches(filter.as_ref(), listed))
                .map(|(f, listed)| stats::pod(f, listed, &samples))
                .collect();
            // Samples of pods and containers gone go with them.
            let live: Vec<String> = pods
                .iter()
                .flat_map(|f| {
                    let ids = containers::of(f).into_iter().map(|m| m.id);
                    std::iter::once(f.id().to_string())
                        .chain(ids)
                        .collect::<Vec<_>>()
                })
                .collect();
            samples.keep_only(&live);
            Ok(stats)
        })
        .await?;
        Ok(Response::new(v1::ListPodSandboxStatsResponse { stats }))
    }
}
