// Makes the CUDA backend findable as "cuda" through dev.ldm4j.tensor.Backends (ServiceLoader), and says
// in one line why it cannot run when this machine lacks the driver, a GPU, or a new enough driver. The
// backend's matrix-product precision comes from the "dtype" option (generate --dtype), else from
// -Dldm4j.cuda.dtype or LDM4J_CUDA_DTYPE (default fp32).
package dev.ldm4j.kernels;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.BackendProvider;
import java.util.Map;
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

    /** Option "dtype" (fp32, fp16, bf16) sets the matrix-product precision, overriding the environment. */
    @Override
    public Backend create(Map<String, String> options) {
        for (String k : options.keySet()) {
            if (!k.equals("dtype")) {
                throw new IllegalArgumentException("device 'cuda' has no option '" + k + "' (it takes: dtype)");
            }
        }
        String dtype = options.get("dtype");
        return new CudaBackend(CudaContext.get(), dtype == null ? CudaPrecision.fromEnvironment() : CudaPrecision.parse(dtype));
    }
}
