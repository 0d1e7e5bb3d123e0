//! A CRI client for the tests, as kubelet and crictl connect: gRPC (tonic) over
//! the agent's Unix socket, driven by a small tokio runtime of the test's own.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// A connection to one CRI socket.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    channel: Channel,
}

impl Cri {
    /// Connect to `socket`, waiting (10 s at most) for the agent to serve it.
    pub fn connect(socket: &Path) -> Cri {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the CRI client");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "nothing serves the CRI on {} after 10 s",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let path: PathBuf = socket.to_path_buf();
        let channel = rt
            .block_on(
                // The URI is a placeholder: the connector below dials the socket.
                Endpoint::from_static("http://[::]:50051").connect_with_connector(
                    tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }),
                ),
            )
            .expect("connect to the CRI socket");
        Cri { rt, channel }
    }

    /// The RuntimeService, taking answers as large as kubelet does (16 MiB).
    pub fn runtime(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone()).max_decoding_message_size(16 << 20)
    }

    /// The ImageService.
    pub fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    /// Run a call to its end.
    pub fn wait<T>(&self, call: impl Future<Output = T>) -> T {
        self.rt.block_on(call)
    }
}
