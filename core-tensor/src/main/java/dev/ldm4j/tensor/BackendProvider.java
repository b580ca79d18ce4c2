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
}
