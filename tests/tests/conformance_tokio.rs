//! The conformance suite on tokio, both runtime flavours.

mod multi_thread {
    aiozmq_tests::conformance!(aiozmq_tests::tokio_driver::Tokio::multi_thread());
}

mod current_thread {
    aiozmq_tests::conformance!(aiozmq_tests::tokio_driver::Tokio::current_thread());
}
