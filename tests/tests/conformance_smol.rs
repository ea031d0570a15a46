//! The conformance suite on smol.

aiozmq_tests::conformance!(aiozmq_tests::smol_driver::Smol);
