//! See podrt_tests::fuzzing::manifest: the body is shared with the stable
//! regression test that feeds every kept input back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podrt_tests::fuzzing::manifest(data));
