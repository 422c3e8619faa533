//! A local emulator of Stream Chat's server-side export API.
