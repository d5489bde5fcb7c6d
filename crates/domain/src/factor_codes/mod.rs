//! The pure parts of second factors: TOTP codes and their `otpauth://` URI, QR images of that URI,
//! backup codes, and phone numbers for SMS codes. No I/O and no clock reads here: the caller passes the time and stores what these
//! functions return (hashed or encrypted as the MFA design asks).

pub mod backup;
pub mod phone;
pub mod qr;
pub mod totp;
