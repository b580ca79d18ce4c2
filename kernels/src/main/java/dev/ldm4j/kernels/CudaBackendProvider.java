// Makes the CUDA backend findable as "cuda" through dev.ldm4j.tensor.Backends (ServiceLoader), and says
// in one line why it cannot run when this machine lacks the driver, a GPU, or a new enough driver. The
// backend's matrix-product precision comes from -Dldm4j.cuda.dtype or LDM4J_CUDA_DTYPE (default fp32).
package dev.ldm4j.kernels;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.BackendProvider;
import java.util.Optional;

public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Optional<String> unavailableReason() {
        try {
            return CudaContext.unavailableReason();
        } catch (LinkageError e) {
            return Optional.of("the JCuda classes (org.jcuda:jcuda 12.0.0) are not on the class path: " + e.getMessage());
        }
    }

    @Override
    public Backend create() {
        return new CudaBackend(CudaContext.get(), CudaPrecision.fromEnvironment());
    }
}
