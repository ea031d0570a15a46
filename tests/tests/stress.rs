//! The missed-wake-up stress cases, for every driver. Set
//! AIOZMQ_STRESS_DIVISOR=10 for a quick local run.

mod tokio_multi_thread {
    aiozmq_tests::stress!(aiozmq_tests::tokio_driver::Tokio::multi_thread());
}

mod tokio_current_thread {
    aiozmq_tests::stress!(aiozmq_tests::tokio_driver::Tokio::current_thread());
}

mod smol {
    aiozmq_tests::stress!(aiozmq_tests::smol_driver::Smol);
}

mod blocking {
    aiozmq_tests::stress!(aiozmq_tests::blocking_driver::Blocking);
}
