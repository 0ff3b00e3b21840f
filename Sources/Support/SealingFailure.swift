/// An error meaning sealed data did not open, or could not be sealed: a tampered ciphertext, a wrong
/// key, a row bound to another identity (I2). Crypto and Custody mark their errors with it so that
/// the layers above, which may not import Crypto, can report them as crypto failures.
public protocol SealingFailure: Error {}
