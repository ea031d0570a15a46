//! The conformance suite on the blocking driver.

aiozmq_tests::conformance!(aiozmq_tests::blocking_driver::Blocking);
