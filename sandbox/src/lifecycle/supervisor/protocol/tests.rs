use std::collections::BTreeMap;
use std::fmt::Debug;

use super::*;
use crate::lifecycle::supervisor::state::{ContainerState, State, Terminated};

fn round_trip<T: Message + PartialEq + Debug>(message: T) {
    let line = encode(&message).unwrap();
    assert!(line.starts_with(r#"{"v":1,"#), "{line}");
    assert!(!line.contains('\n'), "{line}");
    assert_eq!(decode::<T>(&line).unwrap(), message, "{line}");
    let mut wire = Vec::new();
    send(&mut wire, &message).unwrap();
    send(&mut wire, &message).unwrap();
    let got = receive_all::<T>(&mut wire.as_slice());
    assert_eq!(got.len(), 2);
    for m in got {
        assert_eq!(m.unwrap(), message);
    }
}

fn states() -> BTreeMap<String, ContainerState> {
    let running = ContainerState {
        state: State::Running {
            started_at: "2026-01-02T03:04:05Z".into(),
        },
        last_state: Some(Terminated {
            exit_code: None,
            signal: Some(9),
            reason: "OOMKilled".into(),
            started_at: None,
            finished_at: "2026-01-02T03:04:00Z".into(),
        }),
        restart_count: 3,
    };
    let waiting = ContainerState {
        state: State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some("back-off \"10s\"\nnext line".into()),
        },
        last_state: None,
        restart_count: 0,
    };
    // Names that are also the envelope's fields stay inside the map.
    BTreeMap::from([("v".into(), running), ("reply".into(), waiting)])
}

#[test]
fn every_report_round_trips() {
    round_trip(Report::Ready);
    round_trip(Report::Failed {
        message: "container web: image \"x\" not found\nsecond line".into(),
    });
    round_trip(Report::Left {
        why: "supervisor pid 7 has taken it over".into(),
    });
    round_trip(Report::Adopted {
        pid: 42,
        start_time: u64::MAX,
        running: 2,
        ended: 1,
        unknown: 1,
    });
}

#[test]
fn every_request_and_reply_round_trips() {
    round_trip(Request::Status);
    round_trip(Request::Terminate { grace_ms: 30_000 });
    round_trip(Request::Terminating);
    round_trip(Request::Create { name: "app".into() });
    round_trip(Request::Start { name: "app".into() });
    round_trip(Request::Forget { name: "app".into() });
    round_trip(Request::ReopenLog { name: "app".into() });
    round_trip(Reply::Status {
        containers: states(),
    });
    round_trip(Reply::Status {
        containers: BTreeMap::new(),
    });
    round_trip(Reply::Ok);
    round_trip(Reply::Error {
        message: "no".into(),
    });
}

#[test]
fn work_items_and_outcomes_round_trip() {
    round_trip(WorkItem {
        name: "web".into(),
        stdout_fd: 5,
        stderr_fd: 6,
        pull: true,
        create_only: false,
    });
    round_trip(WorkItem {
        name: "web".into(),
        stdout_fd: 5,
        stderr_fd: 6,
        pull: false,
        create_only: true,
    });
    round_trip(Outcome::Created {
        name: "web".into(),
        pid: 4243,
        cgroup: "/podrt/pod1/abd".into(),
    });
    round_trip(Outcome::Started {
        name: "web".into(),
        pid: 4242,
        cgroup: "/podrt/pod1/abc".into(),
    });
    round_trip(Outcome::Failed {
        name: "db".into(),
        message: "image not found: x".into(),
        reason: None,
    });
    round_trip(Outcome::Failed {
        name: "db".into(),
        message: "Failed to pull image \"x\": refused".into(),
        reason: Some("ErrImagePull".into()),
    });
    round_trip(Outcome::Aborted {
        message: "the pod is being deleted".into(),
    });
}

#[test]
fn the_wire_is_as_documented() {
    assert_eq!(
        encode(&Report::Ready).unwrap(),
        r#"{"v":1,"report":"ready"}"#
    );
    assert_eq!(
        encode(&Request::Terminate { grace_ms: 2000 }).unwrap(),
        r#"{"v":1,"request":"terminate","grace_ms":2000}"#
    );
    assert_eq!(
        encode(&WorkItem {
            name: "a".into(),
            stdout_fd: 7,
            stderr_fd: 8,
            pull: false,
            create_only: false,
        })
        .unwrap(),
        r#"{"v":1,"name":"a","stdout_fd":7,"stderr_fd":8,"pull":false}"#
    );
    // Field order does not matter to a reader.
    assert_eq!(
        decode::<Reply>(r#"{"reply":"ok","v":1}"#).unwrap(),
        Reply::Ok
    );
}

#[test]
fn another_version_is_named_never_misread() {
    let err = decode::<Reply>(r#"{"v":2,"reply":"ok"}"#).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Version {
                theirs: 2,
                ours: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the pod's supervisor speaks protocol version 2, this podrt speaks 1: "),
        "{err}"
    );
    // Even a message this podrt could read otherwise.
    let err = decode::<Request>(r#"{"v":0,"request":"status"}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the podrt command speaks protocol version 0, this podrt speaks 1"),
        "{err}"
    );
}

#[test]
fn a_line_that_is_not_a_message_says_so() {
    // What a podrt release before the protocol sends, and other garbage.
    for line in [
        "ok",
        "error unknown request \"status\"",
        "ok 42 977 2 1 1",
        r#"{"c":{"state":{"running":{}}}}"#,
        "[1]",
        "\"v\"",
        r#"{"v":"1","report":"ready"}"#,
        "",
        "\u{0}\u{1}garbage",
    ] {
        let err = decode::<Report>(line).unwrap_err();
        assert!(
            matches!(err, Error::NotAMessage { .. }),
            "{line:?}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("which is not a podrt protocol message"),
            "{err}"
        );
    }
    let long = "x".repeat(10_000);
    let err = decode::<Report>(&long).unwrap_err().to_string();
    assert!(err.len() < 500, "the line is quoted in part: {err}");
}

#[test]
fn a_truncated_line_says_so() {
    let full = encode(&Report::Failed {
        message: "creating the pod".into(),
    })
    .unwrap();
    for cut in 1..full.len() {
        let err = decode::<Report>(&full[..cut]).unwrap_err();
        assert!(
            matches!(err, Error::Truncated { .. }),
            "{:?}: {err:?}",
            &full[..cut]
        );
    }
    let err = decode::<Report>(r#"{"v":1,"report":"ready""#).unwrap_err();
    assert!(err.to_string().contains("was cut short"), "{err}");
    // On the wire: the sender died before the newline.
    let mut wire = r#"{"v":1,"report":"fail"#.as_bytes();
    assert!(matches!(
        receive::<Report>(&mut wire),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn a_message_this_podrt_does_not_know_says_so() {
    for line in [
        r#"{"v":1,"report":"exploded"}"#,
        r#"{"v":1,"report":"adopted","pid":"x"}"#,
        r#"{"v":1,"request":"terminate"}"#,
        // A line from another channel.
        r#"{"v":1,"reply":"ok"}"#,
    ] {
        let err = decode::<Report>(line).unwrap_err();
        assert!(matches!(err, Error::Unknown { .. }), "{line}: {err:?}");
        assert!(err.to_string().contains("does not understand"), "{err}");
    }
}

#[test]
fn nothing_said_is_not_a_message() {
    assert!(receive::<Report>(&mut &b""[..]).unwrap().is_none());
    assert!(receive_all::<Outcome>(&mut &b""[..]).is_empty());
    let got = receive_all::<Outcome>(
        &mut &b"junk\n{\"v\":1,\"outcome\":\"aborted\",\"message\":\"m\"}\n"[..],
    );
    assert!(matches!(got[0], Err(Error::NotAMessage { .. })));
    assert_eq!(
        got[1].as_ref().unwrap(),
        &Outcome::Aborted {
            message: "m".into()
        }
    );
}
