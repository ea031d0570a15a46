//! Churn on every driver: 1,000 connect/disconnect cycles, then the
//! process's file descriptors, threads and resident memory back near the
//! baseline. The tests count the whole process, so they run one at a time
//! in a binary of their own.

mod tokio_multi_thread {
    aiozmq_tests::churn!(aiozmq_tests::tokio_driver::Tokio::multi_thread());
}

mod tokio_current_thread {
    aiozmq_tests::churn!(aiozmq_tests::tokio_driver::Tokio::current_thread());
}

mod smol {
    aiozmq_tests::churn!(aiozmq_tests::smol_driver::Smol);
}

mod blocking {
    aiozmq_tests::churn!(aiozmq_tests::blocking_driver::Blocking);
}
