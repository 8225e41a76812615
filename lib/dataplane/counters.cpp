#include "dataplane/counters.h"

namespace fulcrum::dataplane {

const char *drop_name(drop d) {
    static const char *names[] = {
#define X(name, text) #name,
        FULCRUM_DROP_REASONS(X)
#undef X
    };
    return d < drop::count ? names[static_cast<unsigned>(d)] : "?";
}

const char *drop_text(drop d) {
    static const char *texts[] = {
#define X(name, text) text,
        FULCRUM_DROP_REASONS(X)
#undef X
    };
    return d < drop::count ? texts[static_cast<unsigned>(d)] : "?";
}

} // namespace fulcrum::dataplane
