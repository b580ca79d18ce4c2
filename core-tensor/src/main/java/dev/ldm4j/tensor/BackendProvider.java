// Service-provider hook through which a backend (the CUDA one lives in the kernels module) is found at
// run time, so that model code never links against a device library.
package dev.ldm4j.tensor;

import java.util.Optional;

public interface BackendProvider {
    /** The name users pass to --device ("cpu", "cuda"). */
    String name();

    /** Empty when the backend can run here; otherwise one line saying what is missing. */
    Optional<String> unavailableReason();

    Backend create();

    /**
     * A backend configured by name=value options (the CUDA backend takes "dtype"). Providers that take
     * none refuse any, naming them, rather than ignore what a user asked for.
     */
    default Backend create(java.util.Map<String, String> options) {
        if (!options.isEmpty()) {
            throw new Backends.BackendUnavailableException("device '" + name() + "' takes no options, got " + options.keySet());
        }
        return create();
    }
}
