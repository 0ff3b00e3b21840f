/// What to say when someone tries to pass a secret as an option (`--master-key KEY`): such options do
/// not exist on purpose, since process lists and shell histories show arguments. The advice names
/// where the secret goes instead; the value given is never repeated.
enum SecretOptionAdvice {
    /// The advice for an unknown option `name` (without dashes), or nil when it is not a secret's name.
    static func forOption(_ name: String) -> String? {
        switch name.lowercased() {
        case "master-key", "masterkey", "master_key", "key":
            "The master key is never taken as an argument (process lists show arguments): set TOKENKEEPER_MASTER_KEY to it, "
                + "or put it in a file only you can read (chmod 600) and pass --master-key-file FILE."
        case "to-master-key":
            "The destination's master key is never taken as an argument: set TOKENKEEPER_TO_MASTER_KEY to it, or pass "
                + "--to-master-key-file FILE (a file only you can read)."
        case "refresh-token", "refresh_token", "token":
            "A refresh token is never taken as an argument (process lists show arguments): pipe it on standard input, "
                + "for example `tokenkeeper token put ... < token.txt`."
        case "client-secret", "client_secret", "secret":
            "A client secret is never taken as an argument: reference it in the job spec as env:NAME or file:PATH."
        default:
            nil
        }
    }
}
