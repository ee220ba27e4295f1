//! What ontime trusts and how it proves itself: which addresses a call may reach
//! ([`guard`]), how secrets are kept at rest ([`seal`]) and how a call is signed
//! ([`signing`]).

pub mod access;
pub mod guard;
pub mod prerequisite;
pub mod seal;
pub mod signing;
