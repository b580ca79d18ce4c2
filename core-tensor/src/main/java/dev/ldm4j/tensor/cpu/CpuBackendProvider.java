// ServiceLoader entry for the CPU backend ("cpu"), which runs wherever Java does.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.BackendProvider;

import java.util.Optional;

public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.empty();
    }

    @Override
    public Backend create() {
        return new CpuBackend();
    }
}
