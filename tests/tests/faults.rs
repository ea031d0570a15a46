//! The fault scenarios (a fault proxy between the peers, or a peer process
//! frozen and killed), for every driver.

mod tokio_multi_thread {
    aiozmq_tests::fault_scenarios!(aiozmq_tests::tokio_driver::Tokio::multi_thread());
}

mod tokio_current_thread {
    aiozmq_tests::fault_scenarios!(aiozmq_tests::tokio_driver::Tokio::current_thread());
}

mod smol {
    aiozmq_tests::fault_scenarios!(aiozmq_tests::smol_driver::Smol);
}

mod blocking {
    aiozmq_tests::fault_scenarios!(aiozmq_tests::blocking_driver::Blocking);
}
