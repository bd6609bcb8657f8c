"""The round folder: paths, fingerprints, the store and the log; reading the register and frame inputs."""
