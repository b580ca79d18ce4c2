// Finds backends by name: the CPU backend is always there; others come through ServiceLoader.
package dev.ldm4j.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

public final class Backends {
    private Backends() {
    }

    /** Every provider on the class path, CPU first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> all = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            all.add(p);
        }
        all.sort((a, b) -> a.name().equals("cpu") ? -1 : b.name().equals("cpu") ? 1 : a.name().compareTo(b.name()));
        return all;
    }

    /**
     * The backend with this name, created. Throws BackendUnavailableException with a one-line reason
     * when the name is unknown or the backend cannot run on this machine.
     */
    public static Backend create(String name) {
        return create(name, java.util.Map.of());
    }

    /** As create(name), passing options to the provider (see BackendProvider.create(Map)). */
    public static Backend create(String name, java.util.Map<String, String> options) {
        List<String> names = new ArrayList<>();
        for (BackendProvider p : providers()) {
            names.add(p.name());
            if (p.name().equals(name)) {
                var why = p.unavailableReason();
                if (why.isPresent()) {
                    throw new BackendUnavailableException("device '" + name + "' is not available: " + why.get());
                }
                return p.create(options);
            }
        }
        throw new BackendUnavailableException("unknown device '" + name + "'; available: " + String.join(", ", names)
                + (name.equals("cuda") ? " (the CUDA backend is in the kernels module; is it on the class path?)" : ""));
    }

    public static final class BackendUnavailableException extends RuntimeException {
        public BackendUnavailableException(String message) {
            super(message);
        }
    }
}
